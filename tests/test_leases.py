"""Leases: a delivery held by a live process is never sent by another.

Two dispatchers share one database, as two Herald processes do; neither runs its background
loop unless the test starts it, so the test decides who claims what and when.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart
from sqlalchemy import select

from app.alerts import get_alert
from app.channelset import ChannelSet
from app.db import Database, get_db
from app.dispatch import Dispatcher, RetryPolicy
from app.lifecycle import record_alert
from app.models import Delivery, utcnow
from tests.conftest import migrated_app
from tests.sample_channels import GatedChannel, RecordingChannel

pytestmark = pytest.mark.storage


@pytest.fixture(name="database")
async def _database(settings: dict[str, Any]) -> AsyncIterator[Database]:
    app: Quart = await migrated_app(settings)
    async with get_db(app).connected() as database:
        yield database


def dispatcher(database: Database, *, lease: float, timeout: float, **config: Any) -> Dispatcher:
    """A dispatcher with its own recording (or gated) channel, as another process has."""
    channel = GatedChannel(config) if "GATE" in config else RecordingChannel(config)
    return Dispatcher(
        database,
        ChannelSet({"recording": channel}),
        timeout=timeout,
        retry=RetryPolicy(),
        lease_seconds=lease,
        poll_interval=0.05,
    )


async def new_alert(database: Database) -> int:
    async with database.session() as session:
        record = await record_alert(session, message="m", channels=["recording"], source="t")
        return record.id


async def lease_until(database: Database) -> Any:
    async with database.session() as session:
        return await session.scalar(select(Delivery.lease_until))


async def test_a_lease_taken_over_while_waiting_is_not_sent_by_its_first_holder(
    database: Database,
) -> None:
    first = dispatcher(database, lease=1.0, timeout=0.5)
    second = dispatcher(database, lease=1.0, timeout=0.5)
    alert_id = await new_alert(database)
    [claim] = await first._claim(10)
    # The first process is starved past its lease (a busy machine): the second takes over.
    deadline = time.monotonic() + 10
    while not (taken := await second._claim(10)):
        assert time.monotonic() < deadline, "the lease never lapsed"
        await asyncio.sleep(0.05)
    [takeover] = taken
    async with database.session() as session:
        stored = await get_alert(session, alert_id)
        assert stored is not None
        alert = stored.to_alert()
    await first._process(alert, claim)  # wakes up at last: the delivery is no longer its own
    outcome = await second._process(alert, takeover)
    assert outcome.status == "sent"
    sent_by = [d.channels["recording"].received for d in (first, second)]  # type: ignore[attr-defined]
    assert [len(received) for received in sent_by] == [0, 1]


async def test_leases_of_sends_in_flight_are_renewed_until_they_finish(
    database: Database,
) -> None:
    gate = asyncio.Event()
    first = dispatcher(database, lease=2.0, timeout=30.0, GATE=gate)
    second = dispatcher(database, lease=2.0, timeout=30.0)
    await new_alert(database)
    await first.start()
    try:
        deadline = time.monotonic() + 10
        while await lease_until(database) is None:
            assert time.monotonic() < deadline, "the first dispatcher never claimed"
            await asyncio.sleep(0.05)
        # For more than twice the lease, the second process keeps trying to take it over.
        watch_until = time.monotonic() + 5
        while time.monotonic() < watch_until:
            assert await second._claim(10) == []
            assert await lease_until(database) > utcnow()
            await asyncio.sleep(0.1)
        gate.set()
    finally:
        await first.stop(grace=5)
    async with database.session() as session:
        [delivery] = await session.scalars(select(Delivery))
        assert (delivery.status, delivery.attempts) == ("sent", 1)
        assert delivery.claimed_by == first.worker_id


async def test_only_the_holder_renews_a_lease(database: Database) -> None:
    first = dispatcher(database, lease=5.0, timeout=1.0)
    second = dispatcher(database, lease=5.0, timeout=1.0)
    await new_alert(database)
    [claim] = await first._claim(10)
    before = await lease_until(database)
    assert await second.renew_leases({claim.delivery_id}) == set()
    assert await lease_until(database) == before
    assert await first.renew_leases({claim.delivery_id}) == {claim.delivery_id}
    assert await lease_until(database) > before
