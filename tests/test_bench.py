"""The CPU benchmark runs (a tiny run of it), so that it does not rot between measurements."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_tiny_run_prints_the_table_and_writes_it(tmp_path: Path) -> None:
    document = tmp_path / "benchmarks.md"
    document.write_text("# Benchmarks\n")
    result = subprocess.run(
        [
            sys.executable,
            "bench/cpu.py",
            "--seconds",
            "0.3",
            "--runs",
            "1",
            "--concurrency",
            "2",
            "--deliveries",
            "50",
            "--queued",
            "60",
            "--subscribers",
            "5",
            "--only",
            "hello,channels,post-sqlite,drain-console,drain-100k,drain-webpush",
            "--write",
            str(document),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    cases = [tuple(cell.strip() for cell in row.split("|")[1:3]) for row in rows[2:]]
    assert cases == [
        (server, case)
        for server in ("hypercorn", "uvicorn")
        for case in (
            "hello",
            "channels",
            "post-sqlite",
            "drain-console",
            "drain-100k",
            "drain-webpush",
        )
    ]
    written = document.read_text()
    assert "<!-- bench/cpu.py: begin -->" in written
    assert "| uvicorn | post-sqlite |" in written
    assert all(float(row.split("|")[8]) > 0 for row in rows[2:])  # peak RSS of each server
