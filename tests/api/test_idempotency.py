"""Idempotency-Key on POST /api/alerts: a retried request never sends twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select, update

from app.auth import create_token
from app.db import get_db
from app.dispatch import get_dispatcher
from app.models import AlertRecord, IdempotencyKey, utcnow
from tests.conftest import add_user
from tests.sample_channels import RecordingChannel

pytestmark = pytest.mark.storage

BODY = {"message": "Disk 99% full", "title": "db1", "channels": ["recording"]}


async def post(client: Client, bearer: dict[str, str], key: str, body: Any = BODY) -> Any:
    headers = {**bearer, "Idempotency-Key": key}
    return await client.post("/api/alerts", json=body, headers=headers)


async def alert_count(app: Quart) -> int:
    async with get_db(app).session() as session:
        return int(await session.scalar(select(func.count()).select_from(AlertRecord)) or 0)


async def test_a_repeat_returns_the_original_and_sends_nothing_again(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    first = await post(client, bearer, "key-1")
    assert first.status_code == 202
    original = await first.get_json()
    assert await get_dispatcher(app).wait_for_alert(original["id"], 5)

    reordered = {"channels": ["recording"], "title": "db1", "message": "Disk 99% full"}
    again = await post(client, bearer, "key-1", reordered)
    assert again.status_code == 200
    assert again.headers["Location"] == f"/api/alerts/{original['id']}"
    assert (await again.get_json())["id"] == original["id"]
    assert await alert_count(app) == 1
    recording = get_dispatcher(app).channels["recording"]
    assert isinstance(recording, RecordingChannel)
    assert len(recording.received) == 1


async def test_the_same_key_with_another_body_is_422(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    await post(client, bearer, "key-2")
    response = await post(client, bearer, "key-2", {**BODY, "message": "something else"})
    assert response.status_code == 422
    assert "Idempotency-Key" in (await response.get_json())["fields"]
    assert await alert_count(app) == 1


async def test_concurrent_requests_with_one_key_create_one_alert(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    responses = await asyncio.gather(*(post(client, bearer, "key-3") for _ in range(8)))
    ids = {(await r.get_json())["id"] for r in responses}
    assert len(ids) == 1
    assert sorted(r.status_code for r in responses) == [200] * 7 + [202]
    assert await alert_count(app) == 1


async def test_keys_belong_to_their_user(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    other = await add_user(app, "bob")
    async with get_db(app).session() as session:
        other_bearer = {"Authorization": f"Bearer {await create_token(session, other)}"}
    await post(client, bearer, "shared-key")
    response = await post(client, other_bearer, "shared-key")
    assert response.status_code == 202
    assert await alert_count(app) == 2


async def test_a_key_older_than_a_day_can_be_used_again(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    await post(client, bearer, "key-4")
    async with get_db(app).session() as session:
        await session.execute(
            update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25))
        )
        await session.commit()
    response = await post(client, bearer, "key-4", {**BODY, "message": "a new day"})
    assert response.status_code == 202
    assert await alert_count(app) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "ümlaut", "has space"])
async def test_malformed_keys_are_refused(
    app: Quart, client: Client, bearer: dict[str, str], key: str
) -> None:
    response = await post(client, bearer, key)
    assert response.status_code == 422
    assert "Idempotency-Key" in (await response.get_json())["fields"]
    assert await alert_count(app) == 0
