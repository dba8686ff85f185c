"""A throwaway PostgreSQL server for the test session, on a loopback port in a temp directory.

``make test`` installs Debian's PostgreSQL when it is missing; this module runs ``initdb``
and ``postgres`` from it (as the ``postgres`` user when the tests run as root, since
PostgreSQL refuses to run as root) and stops the server at the end of the session.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER = "postgres"
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",  # a test server: speed over durability
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
}


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory, if any."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def as_postgres(command: list[str]) -> list[str]:
    """``command`` run as the postgres user when we are root."""
    return ["runuser", "-u", USER, "--", *command] if os.geteuid() == 0 else command


def run_checked(command: list[str]) -> None:
    """Run ``command``; raise with its stderr when it fails."""
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run a server until the block ends; yield its SQLAlchemy base URL (no database)."""
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (make test installs it)")
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as
    # the postgres user.
    with tempfile.TemporaryDirectory(prefix="herald-postgres-") as directory:
        workdir = Path(directory)
        if os.geteuid() == 0:
            shutil.chown(workdir, USER)
        data = workdir / "data"
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust"]
        run_checked(as_postgres([*initdb, "--encoding=UTF8", "--no-instructions"]))
        port = free_port()
        options = [f"--{key}={value}" for key, value in SERVER_OPTIONS.items()]
        command = [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", directory]
        server = subprocess.Popen(
            as_postgres([*command, *options]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(bindir, port, server)
            yield f"postgresql+asyncpg://{USER}@127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=30)


def wait_ready(bindir: Path, port: int, server: subprocess.Popen[bytes]) -> None:
    """Poll ``pg_isready`` until the server answers (60 s at most)."""
    deadline = time.monotonic() + 60
    probe = [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", USER]
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"postgres exited with {server.returncode}")
        if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("postgres did not become ready within 60 s")


@contextmanager
def fresh_database(base_url: str) -> Iterator[str]:
    """An empty database on the server for the length of a block; its URL."""
    bindir = postgres_bin()
    assert bindir is not None
    host, port = base_url.rsplit("@", 1)[1].split(":")
    name = f"herald_{uuid.uuid4().hex[:16]}"
    connection = ["-h", host, "-p", port, "-U", USER]
    run_checked([str(bindir / "createdb"), *connection, name])
    try:
        yield f"{base_url}/{name}"
    finally:
        run_checked([str(bindir / "dropdb"), *connection, "--force", name])
