"""Operations: readiness, Prometheus metrics, and purging old alerts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.cli import parse_duration, purge_alerts
from app.db import get_db
from app.dispatch import get_dispatcher
from app.lifecycle import record_alert
from app.models import AlertRecord, Delivery, utcnow
from tests.channels.conftest import deliver
from tests.postgres import free_port

pytestmark = pytest.mark.storage

LOOPBACK = {"client": ("127.0.0.1", 50000)}


async def test_readyz_reports_database_and_dispatcher(client: Client) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert await response.get_json() == {
        "status": "ready",
        "database": "ok",
        "dispatcher": "running",
    }


async def test_readyz_is_503_when_the_dispatcher_stopped(app: Quart, client: Client) -> None:
    await get_dispatcher(app).stop(grace=1)
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert (await response.get_json())["dispatcher"] == "stopped"
    await get_dispatcher(app).start()  # so that shutdown finds it running


@asynccontextmanager
async def database_away(app: Quart) -> AsyncIterator[None]:
    """The app's database server stops answering for the length of a block."""
    database = get_db(app)
    working = database._engine, database._sessionmaker
    nobody_listens = f"postgresql+asyncpg://herald@127.0.0.1:{free_port()}/herald"
    unreachable = create_async_engine(nobody_listens)
    database._engine, database._sessionmaker = unreachable, async_sessionmaker(unreachable)
    try:
        yield
    finally:
        database._engine, database._sessionmaker = working
        await unreachable.dispose()


async def test_writes_are_503_with_retry_after_when_the_database_is_away(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    async with database_away(app):
        response = await client.post("/api/alerts", json={"message": "m"}, headers=bearer)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert (await response.get_json())["message"] == (
        "The database is unavailable; try again shortly."
    )


async def test_readyz_is_503_when_the_database_is_away(app: Quart, client: Client) -> None:
    async with database_away(app):
        response = await client.get("/readyz")
    assert response.status_code == 503
    reason = (await response.get_json())["database"]
    assert reason.startswith("the database does not answer: ")
    assert "Connect call failed" in reason


async def test_metrics_count_deliveries_and_latency(app: Quart, client: Client) -> None:
    await deliver(app, "recording")
    await deliver(app, "failing")
    text = await (await client.get("/metrics", scope_base=LOOPBACK)).get_data(as_text=True)
    assert 'herald_deliveries{channel="recording",status="sent"} 1.0' in text
    assert 'herald_deliveries{channel="failing",status="failed"} 1.0' in text
    assert 'herald_delivery_attempts_total{channel="recording",outcome="sent"} 1.0' in text
    assert 'herald_delivery_latency_seconds_count{channel="recording"} 1.0' in text
    assert "herald_queue_depth 0.0" in text
    assert "herald_oldest_pending_age_seconds 0.0" in text


async def test_metrics_show_the_queue(app: Quart, client: Client) -> None:
    await get_dispatcher(app).stop(grace=1)  # nothing sends: the queue grows
    async with get_db(app).session() as session:
        record = await record_alert(
            session, message="m", channels=["recording", "failing"], source="test"
        )
        await session.execute(
            update(AlertRecord)
            .where(AlertRecord.id == record.id)
            .values(created_at=utcnow() - timedelta(minutes=10))
        )
        await session.commit()
    text = await (await client.get("/metrics", scope_base=LOOPBACK)).get_data(as_text=True)
    assert "herald_queue_depth 2.0" in text
    age = float(text.split("\nherald_oldest_pending_age_seconds ")[1].split()[0])
    assert 600 <= age < 700
    await get_dispatcher(app).start()


async def test_metrics_refuse_remote_clients_without_a_token(client: Client) -> None:
    response = await client.get("/metrics", scope_base={"client": ("203.0.113.9", 4000)})
    assert response.status_code == 403


@pytest.mark.parametrize(("sent", "status"), [("s3cret-metrics", 200), ("wrong", 403), ("", 403)])
async def test_metrics_token_when_configured(
    settings: dict[str, Any], sent: str, status: int
) -> None:
    from tests.conftest import migrated_app

    app = await migrated_app({**settings, "METRICS_TOKEN": "s3cret-metrics"})
    async with app.test_app():
        response = await app.test_client().get(
            "/metrics",
            headers={"Authorization": f"Bearer {sent}"},
            scope_base={"client": ("203.0.113.9", 4000)},
        )
    assert response.status_code == status


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("2w", 1209600)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


async def test_purge_removes_old_finished_alerts_only(app: Quart) -> None:
    old_done = (await deliver(app, "recording")).alert_id
    new_done = (await deliver(app, "recording")).alert_id
    async with get_db(app).session() as session:
        old_pending = (
            await record_alert(session, message="m", channels=["recording"], source="t")
        ).id
        await session.execute(
            update(AlertRecord)
            .where(AlertRecord.id.in_([old_done, old_pending]))
            .values(created_at=utcnow() - timedelta(days=40))
        )
        await session.execute(
            update(Delivery).where(Delivery.alert_id == old_pending).values(status="retrying")
        )
        await session.commit()
    await get_dispatcher(app).stop(grace=1)  # keep the pending one pending
    assert await purge_alerts(get_db(app), timedelta(days=30)) == (1, 1, 1)
    async with get_db(app).session() as session:
        left = set(await session.scalars(select(AlertRecord.id)))
        deliveries = await session.scalar(select(func.count()).select_from(Delivery))
    assert left == {new_done, old_pending}
    assert deliveries == 2
    await get_dispatcher(app).start()
