"""A real Prometheus Alertmanager (Debian's ``prometheus-alertmanager``) on a loopback port,
in a temporary directory, for as long as a block runs."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.servers import listening_socket

BINARY = "prometheus-alertmanager"


def alertmanager_bin() -> str | None:
    """The Alertmanager binary, if installed."""
    return shutil.which(BINARY) or shutil.which("alertmanager")


def free_port() -> int:
    sock = listening_socket()
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@contextmanager
def alertmanager_server(config: str, *, seconds: float = 60) -> Iterator[str]:
    """Run Alertmanager with ``config`` (YAML); yield its base URL once it is ready."""
    binary = alertmanager_bin()
    assert binary is not None, "prometheus-alertmanager is not installed"
    with tempfile.TemporaryDirectory(prefix="herald-alertmanager-") as directory:
        root = Path(directory)
        (root / "alertmanager.yml").write_text(config)
        port = free_port()
        log = (root / "alertmanager.log").open("w")
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={root / 'alertmanager.yml'}",
                f"--storage.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # one instance: no gossip port
                "--log.level=info",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + seconds
            while True:
                try:
                    if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, (root / "alertmanager.log").read_text()
                assert time.monotonic() < deadline, "Alertmanager did not become ready"
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()
