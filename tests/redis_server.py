"""A throwaway Redis server on a loopback port for the tests that need several instances."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.postgres import free_port


@contextmanager
def redis_server() -> Iterator[str]:
    """Run redis-server (no persistence) until the block ends; yield its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (make test installs it)")
    port = free_port()
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, server)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    """Poll ``redis-cli ping`` until the server answers (30 s at most)."""
    deadline = time.monotonic() + 30
    probe = ["redis-cli", "-p", str(port), "ping"]
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"redis-server exited with {server.returncode}")
        if subprocess.run(probe, capture_output=True, check=False).stdout.strip() == b"PONG":
            return
        time.sleep(0.05)
    raise RuntimeError("redis-server did not become ready within 30 s")
