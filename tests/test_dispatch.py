"""The concurrent fan-out and its bookkeeping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart

from app.alerts import get_alert, record_alert
from app.db import get_db
from app.dispatch import get_dispatcher
from app.models import DeliveryStatus
from tests.conftest import migrated_app
from tests.sample_channels import (
    FailingChannel,
    HangingChannel,
    RecordingChannel,
    RendezvousChannel,
    SecondRendezvousChannel,
    ThirdRendezvousChannel,
    path,
)

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


async def test_background_submission_can_be_awaited(app: Quart) -> None:
    dispatcher = get_dispatcher(app)
    alert_id = await new_alert(app, ["recording"])
    dispatcher.submit(alert_id)
    assert await dispatcher.wait(alert_id, 5)
    async with get_db(app).session() as session:
        record = await get_alert(session, alert_id)
    assert record is not None
    assert record.status == "sent"


async def test_shutdown_lets_running_dispatches_finish(settings: dict[str, Any]) -> None:
    settings["CHANNELS"] = [path(RecordingChannel), path(HangingChannel)]
    settings["CHANNEL_TIMEOUT"] = 0.5
    app = await migrated_app(settings)
    async with app.test_app():
        alert_id = await new_alert(app, ["recording", "hanging"])
        get_dispatcher(app).submit(alert_id)
    # after_serving waited for the dispatch: both outcomes are recorded, none left "sending"
    async with get_db(app).connected() as database, database.session() as session:
        record = await get_alert(session, alert_id)
    assert record is not None
    assert {d.channel: d.status for d in record.deliveries} == {
        "recording": "sent",
        "hanging": "failed",
    }
