"""uvicorn, the documented alternative to hypercorn: lifespan (the database and the
dispatcher), websockets (the live pages) and a graceful shutdown (deliveries in flight handed
back), on a real uvicorn process."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from sqlalchemy import select

from app.db import get_db
from app.models import Delivery
from tests.conftest import PASSWORD, add_user, migrated_app
from tests.servers import HeraldProcess, ProviderSink, Reply, herald_env, wait_until

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CONSOLE, WEBHOOK = "channels.console.ConsoleChannel", "channels.webhook.WebhookChannel"


async def test_lifespan_websockets_and_graceful_shutdown(
    settings: dict[str, Any], tmp_path: Path
) -> None:
    async with ProviderSink(Reply(204)).serving() as sink:  # the webhook provider
        env, token = await herald_env(
            settings,
            HERALD_CHANNELS=f'["{CONSOLE}", "{WEBHOOK}"]',
            HERALD_WEBHOOK_URLS=f'["{sink.url}/hook"]',
            HERALD_WEBHOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            HERALD_CHANNEL_TIMEOUT="5",
        )
        app = await migrated_app(settings)
        async with get_db(app).connected():
            await add_user(app, "alice")
        server = HeraldProcess(env, tmp_path / "herald.log", server="uvicorn").start()
        await server.ready()
        bearer = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            # lifespan ran: the database is open and the dispatcher sends
            assert (await client.get("/readyz")).status_code == 200
            sent = await client.post(
                "/api/alerts",
                json={"message": "db1 is down"},
                headers={**bearer, "Prefer": "wait=20"},
            )
            assert sent.status_code == 200, sent.text
            assert {d["status"] for d in sent.json()["deliveries"]} == {"sent"}

        # websockets: a signed-in page follows its alert until it is finished
        jar = aiohttp.CookieJar(unsafe=True)  # keep cookies of an IP address host
        async with aiohttp.ClientSession(base_url=server.url, cookie_jar=jar) as browser:
            form = await (await browser.get("/login")).text()
            token_field = CSRF.search(form)
            assert token_field is not None
            login = {"username": "alice", "password": PASSWORD, "csrf_token": token_field[1]}
            await browser.post("/login", data=login)
            async with browser.ws_connect(
                "/live?view=page&alerts=1", headers={"Origin": server.url}
            ) as live:
                update = await asyncio.wait_for(live.receive_json(), 10)
                assert update["alert"] == 1
                assert update["status"] == "sent"

        # graceful shutdown: a delivery in flight at SIGTERM is finished and recorded
        sink.default = Reply(204, delay=2.0)
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            held = await client.post("/api/alerts", json={"message": "held"}, headers=bearer)
        assert held.status_code == 202
        await wait_until(lambda: len(sink.received) >= 2, 30, "the second webhook under way")
        # uvicorn re-raises the signal once it has shut down gracefully
        assert await server.stop(signal.SIGTERM) == -signal.SIGTERM
    assert "Application shutdown complete." in (tmp_path / "herald.log").read_text()

    async with get_db(app).connected() as database, database.session() as session:
        statuses = dict(
            (
                await session.execute(
                    select(Delivery.channel, Delivery.status).where(Delivery.alert_id == 2)
                )
            ).all()
        )
    assert statuses == {"console": "sent", "webhook": "sent"}  # nothing left "sending"
