"""End to end on a real hypercorn server: timing of the fan-out, and exit codes at start-up."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from quart import Quart

from app.auth import create_token
from app.db import get_db
from tests.conftest import add_user, migrated_app
from tests.sample_channels import (
    FailingChannel,
    HangingChannel,
    InFlight,
    SecondSlowChannel,
    SlowChannel,
    ThirdSlowChannel,
    path,
)
from tests.servers import hypercorn_server, listening_socket, run_hypercorn

ROOT = Path(__file__).resolve().parent.parent
SLOW = ["slow1", "slow2", "slow3"]


@pytest.fixture(name="server")
async def _server(settings: dict[str, Any]) -> AsyncIterator[tuple[httpx.AsyncClient, Quart]]:
    settings["CHANNELS"] = [
        path(cls)
        for cls in (
            SlowChannel,
            SecondSlowChannel,
            ThirdSlowChannel,
            FailingChannel,
            HangingChannel,
        )
    ]
    settings["CHANNEL_TIMEOUT"] = 2.0
    app = await migrated_app(settings)
    async with get_db(app).connected() as database, database.session() as session:
        user = await add_user(app, "ops")
        token = await create_token(session, user, "e2e")
    async with hypercorn_server(app) as base_url:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=15) as client:
            yield client, app


async def test_three_half_second_channels_are_sent_at_the_same_time(
    server: tuple[httpx.AsyncClient, Quart],
) -> None:
    client, _ = server
    InFlight.most = 0
    response = await client.post(
        "/api/alerts", json={"message": "fan out", "channels": SLOW}, headers={"Prefer": "wait=10"}
    )
    assert response.status_code == 200
    body = response.json()
    assert [(d["channel"], d["status"]) for d in body["deliveries"]] == [(n, "sent") for n in SLOW]
    assert all(d["latency_ms"] >= 500 for d in body["deliveries"])
    assert InFlight.most == 3  # all three under way at once, not one after another


async def test_raising_and_hanging_channels_fail_while_the_others_are_sent_on_time(
    server: tuple[httpx.AsyncClient, Quart],
) -> None:
    client, _ = server
    response = await client.post(
        "/api/alerts",
        json={"message": "mixed", "channels": [*SLOW, "failing", "hanging"]},
        headers={"Prefer": "wait=10"},
    )
    assert response.status_code == 200
    deliveries = {d["channel"]: d for d in response.json()["deliveries"]}
    for name in SLOW:
        assert deliveries[name]["status"] == "sent"
        assert deliveries[name]["latency_ms"] < 1000  # not held back by the hanging channel
    assert deliveries["failing"]["status"] == "failed"
    assert deliveries["failing"]["error"] == "DeliveryError: provider said no (code 21211)"
    assert deliveries["hanging"]["status"] == "failed"
    assert deliveries["hanging"]["error"] == "timed out after 2 s"
    assert max(deliveries[n]["finished_at"] for n in SLOW) < deliveries["hanging"]["finished_at"]


async def test_background_dispatch_is_visible_by_polling(
    server: tuple[httpx.AsyncClient, Quart],
) -> None:
    client, _ = server
    accepted = await client.post("/api/alerts", json={"message": "later", "channels": ["slow1"]})
    assert accepted.status_code == 202
    assert accepted.json()["deliveries"][0]["status"] in {"pending", "sending"}
    location = accepted.headers["Location"]
    deadline = time.monotonic() + 10
    while (status := (await client.get(location)).json()["status"]) != "sent":
        assert time.monotonic() < deadline, f"still {status} after 10 s"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "the database schema is not up to date; run `quart --app asgi migrate` first"),
        (
            {"HERALD_CHANNELS": '["channels.nowhere.Pager"]'},
            "bad setting CHANNELS: cannot import 'channels.nowhere.Pager'",
        ),
        ({"HERALD_CHANNEL_TIMEOUT": '"soon"'}, "bad setting CHANNEL_TIMEOUT: must be a positive"),
        ({"HERALD_LOGIN_RATE_LIMIT": "lots"}, "bad setting LOGIN_RATE_LIMIT: write a limit"),
        ({"HERALD_ENV": "staging"}, "bad setting HERALD_ENV: unknown environment 'staging'"),
    ],
)
def test_a_failed_start_says_why_in_one_line(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    database = {"HERALD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/unmigrated.db"}
    process = run_hypercorn({**database, **env}, "--bind", "127.0.0.1:0")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    [line] = stderr.splitlines()  # one line, no traceback
    assert line.startswith(f"herald: cannot start: {message}")


def test_a_port_in_use_is_one_line_too(tmp_path: Path) -> None:
    taken = listening_socket()
    address = f"127.0.0.1:{taken.getsockname()[1]}"
    database = {"HERALD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/herald.db"}
    try:
        process = run_hypercorn(database, "--bind", address)
        _, stderr = process.communicate(timeout=60)
    finally:
        taken.close()
    assert process.returncode == 1
    assert stderr.splitlines() == [
        f"herald: cannot start: bind: cannot listen on {address}: Address already in use"
    ]


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    env = {
        "HERALD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/herald.db",
        "HERALD_CHANNEL_TIMEOUT": '"soon"',
        "HERALD_LOG_LEVEL": "DEBUG",
    }
    process = run_hypercorn(env, "--bind", "127.0.0.1:0")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "Traceback" in stderr
    assert "ConfigError: CHANNEL_TIMEOUT" in stderr


async def test_served_app_answers_and_stops_cleanly_on_sigterm(settings: dict[str, Any]) -> None:
    await migrated_app(settings)
    sock = listening_socket()
    port = sock.getsockname()[1]
    env = {"HERALD_DATABASE_URL": settings["DATABASE_URL"]}
    process = run_hypercorn(env, "--bind", f"fd://{sock.fileno()}", pass_fds=(sock.fileno(),))
    sock.close()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
