"""A SQLite file deleted or made read-only under a running Herald: writes answer 503 with
Retry-After (nothing is accepted into a file that is gone) and /readyz says why."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy.engine import make_url


def database_file(app: Quart) -> Path:
    database = make_url(app.config["DATABASE_URL"]).database
    assert database is not None
    return Path(database)


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` read-only, for root too (the immutable flag), until the block ends."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(0o444)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(0o644)


async def assert_writes_refused_and_not_ready(
    client: Client, bearer: dict[str, str], reason: str
) -> None:
    response = await client.post("/api/alerts", json={"message": "lost?"}, headers=bearer)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "database is unavailable" in (await response.get_json())["message"]
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert reason in (await ready.get_json())["database"]


async def test_a_deleted_database_file_is_noticed(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    assert (
        await client.post("/api/alerts", json={"message": "a"}, headers=bearer)
    ).status_code == 202
    path = database_file(app)
    for suffix in ("", "-wal", "-shm"):
        os.unlink(f"{path}{suffix}")
    await assert_writes_refused_and_not_ready(client, bearer, "is missing")
    assert not path.exists()  # and no empty database was made in its place


async def test_a_read_only_database_file_is_noticed(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    assert (
        await client.post("/api/alerts", json={"message": "a"}, headers=bearer)
    ).status_code == 202
    with read_only(database_file(app)):
        await assert_writes_refused_and_not_ready(client, bearer, "read-only")
    assert (await client.get("/readyz")).status_code == 200  # writable again: ready again
    accepted = await client.post("/api/alerts", json={"message": "b"}, headers=bearer)
    assert accepted.status_code == 202
