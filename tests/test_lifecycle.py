"""An alert's life in the database: deduplication, repeats, acknowledge, resolve, silences.

The services take ``now``, so that hours pass in a test without waiting for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart

from app.alerts import get_alert
from app.db import Database, get_db
from app.lifecycle import (
    NOT_SENT_BECAUSE_RESOLVED,
    AlertResolvedError,
    Policy,
    Trigger,
    acknowledge,
    resolve,
    trigger,
)
from app.models import AlertRecord, DeliveryStatus, utcnow
from app.silences import Matcher, create_silence
from tests.conftest import migrated_app

pytestmark = pytest.mark.storage

POLICY = Policy(repeat_interval=timedelta(hours=4), send_resolved=True)
HOUR = timedelta(hours=1)


@pytest.fixture(name="database")
async def _database(settings: dict[str, Any]) -> AsyncIterator[Database]:
    app: Quart = await migrated_app(settings)
    async with get_db(app).connected() as database:
        yield database


def report(**fields: Any) -> Trigger:
    values: dict[str, Any] = {
        "message": "disk full",
        "channels": ["recording", "failing"],
        "source": "test",
        "severity": "critical",
        "dedup_key": "db1-disk",
        "labels": {"host": "db1", "team": "storage"},
    }
    return Trigger(**(values | fields))


async def fire(database: Database, **fields: Any) -> tuple[AlertRecord, bool]:
    now = fields.pop("now", None)
    async with database.session() as session:
        return await trigger(session, report(**fields), POLICY, now=now)


async def notifications(database: Database, alert_id: int) -> list[tuple[str, str, str]]:
    async with database.session() as session:
        record = await get_alert(session, alert_id)
        assert record is not None
        return sorted((d.notification, d.channel, d.status) for d in record.deliveries)


async def mark_sent(database: Database, alert_id: int, *channels: str) -> None:
    async with database.session() as session:
        record = await get_alert(session, alert_id)
        assert record is not None
        for delivery in record.deliveries:
            if delivery.channel in channels:
                delivery.status = DeliveryStatus.SENT
        await session.commit()


async def test_a_trigger_with_an_open_key_is_the_same_alert_seen_again(database: Database) -> None:
    first, created = await fire(database)
    assert created
    later = utcnow() + HOUR
    again, created_again = await fire(database, now=later)
    assert (again.id, created_again) == (first.id, False)
    assert again.occurrences == 2
    assert again.last_seen_at == later
    assert [n for n, _, _ in await notifications(database, first.id)] == ["firing", "firing"]


async def test_a_firing_alert_seen_again_after_the_interval_is_repeated(database: Database) -> None:
    first, _ = await fire(database)
    await fire(database, now=utcnow() + 3 * HOUR)  # within the interval: nothing sent
    again, _ = await fire(database, now=utcnow() + 5 * HOUR)
    assert again.repeats == 1
    assert await notifications(database, first.id) == [
        ("firing", "failing", "pending"),
        ("firing", "recording", "pending"),
        ("repeat-1", "failing", "pending"),
        ("repeat-1", "recording", "pending"),
    ]
    await fire(database, now=utcnow() + 6 * HOUR)  # the interval counts from the repeat
    assert len(await notifications(database, first.id)) == 4


async def test_an_acknowledged_alert_is_not_repeated(database: Database) -> None:
    first, _ = await fire(database)
    async with database.session() as session:
        acknowledged = await acknowledge(session, first.id, by="alice")
    assert acknowledged is not None
    assert (acknowledged.state, acknowledged.acknowledged_by) == ("acknowledged", "alice")
    again, created = await fire(database, now=utcnow() + 10 * HOUR)
    assert (again.id, created, again.occurrences, again.repeats) == (first.id, False, 2, 0)


async def test_after_it_is_resolved_the_same_key_starts_a_new_alert(database: Database) -> None:
    first, _ = await fire(database)
    async with database.session() as session:
        await resolve(session, first.id, POLICY)
    second, created = await fire(database)
    assert created
    assert second.id != first.id
    assert second.state == "firing"


async def test_resolving_tells_the_channels_that_were_told(database: Database) -> None:
    first, _ = await fire(database)
    await mark_sent(database, first.id, "recording")  # "failing" never got it
    async with database.session() as session:
        resolved = await resolve(session, first.id, POLICY)
    assert resolved is not None
    assert resolved.state == "resolved"
    assert resolved.resolved_at is not None
    assert await notifications(database, first.id) == [
        ("firing", "failing", "failed"),
        ("firing", "recording", "sent"),
        ("resolved", "recording", "pending"),
    ]
    unsent = next(d for d in resolved.deliveries if d.channel == "failing")
    assert unsent.error == NOT_SENT_BECAUSE_RESOLVED
    async with database.session() as session:  # resolving twice changes nothing
        await resolve(session, first.id, POLICY)
    assert len(await notifications(database, first.id)) == 3


async def test_without_send_resolved_nobody_is_told(database: Database) -> None:
    first, _ = await fire(database)
    await mark_sent(database, first.id, "recording", "failing")
    async with database.session() as session:
        await resolve(session, first.id, Policy(send_resolved=False))
    assert [n for n, _, _ in await notifications(database, first.id)] == ["firing", "firing"]


async def test_a_resolved_alert_cannot_be_acknowledged(database: Database) -> None:
    first, _ = await fire(database)
    async with database.session() as session:
        await resolve(session, first.id, POLICY)
        with pytest.raises(AlertResolvedError):
            await acknowledge(session, first.id, by="alice")


async def test_concurrent_triggers_with_a_new_key_make_one_alert(database: Database) -> None:
    results = await asyncio.gather(*(fire(database, dedup_key="burst") for _ in range(8)))
    assert len({record.id for record, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    async with database.session() as session:
        record = await get_alert(session, results[0][0].id)
    assert record is not None
    assert record.occurrences == 8


@pytest.mark.parametrize(
    ("matcher", "silenced"),
    [
        (Matcher("team", "storage"), True),
        (Matcher("team", "network"), False),
        (Matcher("team", "storage", equal=False), False),
        (Matcher("host", "db[0-9]+", regex=True), True),
        (Matcher("host", "db", regex=True), False),  # the whole value must match
        (Matcher("host", "web.*", regex=True, equal=False), True),
        (Matcher("severity", "critical"), True),  # severity and dedup_key as labels
        (Matcher("dedup_key", "db1-.*", regex=True), True),
        (Matcher("missing", ""), True),  # a missing label is the empty string
    ],
)
async def test_an_alert_that_a_silence_matches_is_recorded_and_sent_nowhere(
    database: Database, matcher: Matcher, silenced: bool
) -> None:
    now = utcnow()
    async with database.session() as session:
        silence = await create_silence(
            session,
            matchers=[matcher],
            starts_at=now - HOUR,
            ends_at=now + HOUR,
            comment="maintenance",
            created_by="alice",
        )
    record, _ = await fire(database)
    assert record.silenced is silenced
    assert record.silence_id == (silence.id if silenced else None)
    assert (record.status == "silenced") is silenced
    assert bool(await notifications(database, record.id)) is not silenced


async def test_silences_hold_only_between_their_start_and_end(database: Database) -> None:
    now = utcnow()
    async with database.session() as session:
        for starts, ends in ((now - 2 * HOUR, now - HOUR), (now + HOUR, now + 2 * HOUR)):
            await create_silence(
                session,
                matchers=[Matcher("team", "storage")],
                starts_at=starts,
                ends_at=ends,
                comment="",
                created_by="alice",
            )
    record, _ = await fire(database)
    assert not record.silenced
