"""The API keeps its OpenAPI contract: schemathesis against /openapi.json on a real server.

Every operation is fuzzed with valid and invalid data (a bounded number of examples) and every
check runs: no 5xx, every status code and body documented, invalid input refused.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import create_app
from app.auth import create_token, create_user
from app.db import get_db
from channels.webpush import new_vapid_keys
from tests.servers import HeraldProcess

PRIVATE_VAPID, _ = new_vapid_keys()
CONFIG = """
[[operations]]
include-name = "POST /api/alerts"
# An Idempotency-Key sent again with another body is refused with 422, as the IETF draft
# asks: a state of the server (the key was used) that no schema can describe.
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 404, 409, 422, 429]

[[operations]]
include-name = "POST /api/silences"
# A silence that would end before now is refused with 422, as Alertmanager refuses it: it
# depends on the clock, which no schema can describe.
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 404, 422, 429]
"""


async def prepare(database_url: str) -> str:
    app = create_app({"DATABASE_URL": database_url}, env="testing")
    async with get_db(app).connected() as database:
        await database.migrate()
        async with database.session() as session:
            user = await create_user(session, "contract", "contract-password")
            return await create_token(session, user, "schemathesis")


pytestmark = pytest.mark.storage  # SQLite and PostgreSQL fail differently on bad input


@pytest.fixture(name="herald_api")
def _herald_api(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    token = asyncio.run(prepare(database_url))
    env = {
        "HERALD_DATABASE_URL": database_url,
        "HERALD_CHANNELS": '["channels.console.ConsoleChannel", "channels.webpush.WebPushChannel"]',
        "HERALD_VAPID_PRIVATE_KEY": PRIVATE_VAPID,
        "HERALD_VAPID_SUBJECT": "mailto:contract@herald.example",
        "HERALD_API_RATE_LIMIT": "1000000/minute",
        "HERALD_AUTH_FAILURE_LIMIT": "1000000/minute",  # schemathesis tries wrong tokens
        "HERALD_LOG_LEVEL": "WARNING",
        "HERALD_CHANNEL_TIMEOUT": "2",
    }
    with HeraldProcess(env, tmp_path / "herald.log").running() as server:
        yield server.url, token


def test_every_operation_keeps_the_contract(herald_api: tuple[str, str], tmp_path: Path) -> None:
    url, token = herald_api
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{url}/openapi.json",
        "--checks=all",
        "--max-examples=30",
        "--seed=20261121",  # the same examples every run: a failure can be replayed
        "--generation-deterministic",
        "--request-timeout=30",
        f"--header=Authorization: Bearer {token}",
    ]
    # run in a fresh directory: schemathesis keeps a cache of past failures where it runs,
    # which must neither steer this run nor land in the repository
    workdir = tmp_path / "schemathesis"
    workdir.mkdir()
    (workdir / "schemathesis.toml").write_text(CONFIG)
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=workdir
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout or " passed" in result.stdout
