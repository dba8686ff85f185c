"""The concurrent fan-out and its bookkeeping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from sqlalchemy import update

from app.alerts import get_alert
from app.db import get_db
from app.deliveries import DeliveryQueue
from app.dispatch import get_dispatcher
from app.lifecycle import record_alert
from app.models import Delivery, DeliveryStatus, utcnow
from tests.conftest import migrated_app
from tests.sample_channels import (
    FailingChannel,
    HangingChannel,
    ProbeChannel,
    RecordingChannel,
    RendezvousChannel,
    SecondRendezvousChannel,
    ThirdRendezvousChannel,
    path,
)

pytestmark = pytest.mark.storage

RENDEZVOUS = [RendezvousChannel, SecondRendezvousChannel, ThirdRendezvousChannel]


@pytest.fixture(name="app")
async def _app(settings: dict[str, Any]) -> AsyncIterator[Quart]:
    settings["CHANNELS"] = [
        path(cls) for cls in (*RENDEZVOUS, RecordingChannel, FailingChannel, HangingChannel)
    ]
    settings["CHANNEL_TIMEOUT"] = 1.0
    settings["RENDEZVOUS"] = asyncio.Barrier(len(RENDEZVOUS))
    app = await migrated_app(settings)
    async with app.test_app():
        yield app


async def new_alert(app: Quart, channels: list[str]) -> int:
    async with get_db(app).session() as session:
        record = await record_alert(
            session, message="m", title="t", channels=channels, source="test"
        )
        return record.id


async def test_channels_are_sent_concurrently(app: Quart) -> None:
    names = [cls.name for cls in RENDEZVOUS]
    outcomes = await get_dispatcher(app).dispatch_alert(await new_alert(app, names))
    # Each channel waits for all three to have started: only concurrent sends can all succeed.
    assert [(o.channel, o.status, o.error) for o in outcomes] == [
        (name, DeliveryStatus.SENT, None) for name in names
    ]


async def test_raising_and_hanging_channels_fail_alone(app: Quart) -> None:
    alert_id = await new_alert(app, ["hanging", "failing", "recording"])
    outcomes = {o.channel: o for o in await get_dispatcher(app).dispatch_alert(alert_id)}
    assert outcomes["recording"].status == DeliveryStatus.SENT
    assert outcomes["failing"].status == DeliveryStatus.FAILED
    assert outcomes["failing"].error == "DeliveryError: provider said no (code 21211)"
    assert outcomes["hanging"].status == DeliveryStatus.FAILED
    assert outcomes["hanging"].error == "timed out after 1 s"

    async with get_db(app).session() as session:
        record = await get_alert(session, alert_id)
    assert record is not None
    stored = {d.channel: d for d in record.deliveries}
    recording, hanging = stored["recording"], stored["hanging"]
    assert recording.status == "sent"
    assert recording.attempts == 1
    assert recording.error is None
    assert recording.started_at is not None
    assert recording.finished_at is not None
    assert recording.latency_ms is not None
    # the hanging channel did not hold the others back: they finished before its timeout
    assert hanging.finished_at is not None
    assert recording.finished_at < hanging.finished_at
    assert stored["failing"].finished_at < hanging.finished_at  # type: ignore[operator]
    assert hanging.latency_ms is not None
    assert hanging.latency_ms >= 1000
    assert hanging.error == "timed out after 1 s"
    channel = get_dispatcher(app).channels["recording"]
    assert isinstance(channel, RecordingChannel)
    assert [a.id for a in channel.received] == [alert_id]


async def test_alert_status_summarises_its_deliveries(app: Quart) -> None:
    dispatcher = get_dispatcher(app)
    all_sent = await new_alert(app, ["recording"])
    all_failed = await new_alert(app, ["failing"])
    mixed = await new_alert(app, ["recording", "failing"])
    for alert_id in (all_sent, all_failed, mixed):
        await dispatcher.dispatch_alert(alert_id)
    async with get_db(app).session() as session:
        statuses = [(await get_alert(session, i)).status for i in (all_sent, all_failed, mixed)]  # type: ignore[union-attr]
    assert statuses == ["sent", "failed", "partial"]


async def test_background_worker_claims_and_sends(app: Quart) -> None:
    dispatcher = get_dispatcher(app)
    alert_id = await new_alert(app, ["recording"])
    dispatcher.notify()
    assert await dispatcher.wait_for_alert(alert_id, 5)
    async with get_db(app).session() as session:
        record = await get_alert(session, alert_id)
    assert record is not None
    [delivery] = record.deliveries
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert delivery.claimed_by == dispatcher.worker_id
    assert delivery.lease_until is None


async def test_the_background_worker_sends_an_alerts_channels_side_by_side(app: Quart) -> None:
    # Each rendezvous channel waits until all three have started: sent one after the other,
    # they would all time out.
    dispatcher = get_dispatcher(app)
    alert_id = await new_alert(app, [cls.name for cls in RENDEZVOUS])
    dispatcher.notify()
    assert await dispatcher.wait_for_alert(alert_id, 10)
    async with get_db(app).session() as session:
        record = await get_alert(session, alert_id)
    assert record is not None
    assert [(d.channel, d.status) for d in record.deliveries] == [
        (cls.name, "sent") for cls in RENDEZVOUS
    ]


async def test_an_expired_lease_is_claimed_again(app: Quart) -> None:
    alert_id = await new_alert(app, ["recording"])
    async with get_db(app).session() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.alert_id == alert_id)
            .values(
                status="sending",
                attempts=1,
                claimed_by="a-process-that-died",
                lease_until=utcnow() - timedelta(seconds=1),
            )
        )
        await session.commit()
    dispatcher = get_dispatcher(app)
    dispatcher.notify()
    assert await dispatcher.wait_for_alert(alert_id, 5)
    async with get_db(app).session() as session:
        record = await get_alert(session, alert_id)
    assert record is not None
    assert (record.deliveries[0].status, record.deliveries[0].attempts) == ("sent", 2)


async def test_a_live_lease_is_left_alone(app: Quart) -> None:
    alert_id = await new_alert(app, ["recording"])
    async with get_db(app).session() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.alert_id == alert_id)
            .values(status="sending", claimed_by="busy", lease_until=utcnow() + timedelta(60))
        )
        await session.commit()
    assert await get_dispatcher(app)._claim(10) == []


async def test_two_workers_never_claim_the_same_delivery(app: Quart) -> None:
    for _ in range(30):
        await new_alert(app, ["recording", "failing"])
    database, lease = get_db(app), timedelta(seconds=30)
    workers = [DeliveryQueue(database, name, lease) for name in ("first", "second")]
    claims = await asyncio.gather(*(w.claim(7) for w in workers for _ in range(5)))
    ids = [c.delivery_id for batch in claims for c in batch]
    assert len(ids) == len(set(ids)) == 60


async def test_unfinished_claims_are_released_as_they_were(app: Quart) -> None:
    alert_id = await new_alert(app, ["recording"])
    dispatcher = get_dispatcher(app)
    [claim] = await dispatcher._claim(10)
    assert claim.attempt == 1
    await dispatcher._release_leases()
    async with get_db(app).session() as session:
        record = await get_alert(session, alert_id)
    assert record is not None
    delivery = record.deliveries[0]
    assert (delivery.status, delivery.attempts, delivery.claimed_by) == ("pending", 0, None)


async def test_concurrency_is_bounded(settings: dict[str, Any]) -> None:
    settings.update(CHANNELS=[path(ProbeChannel)], MAX_CONCURRENT_DELIVERIES=3)
    app = await migrated_app(settings)
    async with app.test_app():
        ids = [await new_alert(app, ["probe"]) for _ in range(12)]
        dispatcher = get_dispatcher(app)
        dispatcher.notify()
        for alert_id in ids:
            assert await dispatcher.wait_for_alert(alert_id, 10)
        probe = dispatcher.channels["probe"]
        assert isinstance(probe, ProbeChannel)
    assert probe.peak == 3  # never more than the bound, and the bound was used


async def test_shutdown_lets_sends_in_flight_finish(settings: dict[str, Any]) -> None:
    settings["CHANNELS"] = [path(RecordingChannel), path(HangingChannel)]
    settings["CHANNEL_TIMEOUT"] = 0.5
    app = await migrated_app(settings)
    async with app.test_app():
        alert_id = await new_alert(app, ["recording", "hanging"])
        get_dispatcher(app).notify()
        await wait_until_status(app, alert_id, "hanging", "sending")
    # stopping waited for the hanging send to time out: nothing is left "sending"
    async with get_db(app).connected() as database, database.session() as session:
        record = await get_alert(session, alert_id)
    assert record is not None
    assert {d.channel: d.status for d in record.deliveries} == {
        "recording": "sent",
        "hanging": "failed",
    }


async def wait_until_status(app: Quart, alert_id: int, channel: str, status: str) -> None:
    """Poll until the alert's delivery on ``channel`` has ``status`` (5 s at most)."""
    async with asyncio.timeout(5):
        while True:
            async with get_db(app).session() as session:
                record = await get_alert(session, alert_id)
            assert record is not None
            if {d.channel: d.status for d in record.deliveries}.get(channel) == status:
                return
            await asyncio.sleep(0.01)
