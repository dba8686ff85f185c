"""The API's alerts are committed in groups: many requests, one transaction, each request
answered with its own alert once it is committed; a lost race or one bad request fails
nobody else."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import event, func, select, text

from app.auth import create_token, create_user
from app.db import Database, get_db
from app.errors import InvalidInput
from app.lifecycle import Policy, Trigger, trigger
from app.models import AlertRecord, Delivery
from app.writer import AlertWriter
from tests.conftest import add_user, migrated_app

pytestmark = pytest.mark.storage


@pytest.fixture(name="database")
async def _database(settings: dict[str, Any]) -> AsyncIterator[Database]:
    app = await migrated_app(settings)
    async with get_db(app).connected() as database:
        yield database


def report(message: str, **fields: Any) -> Trigger:
    return Trigger(message=message, channels=["recording"], source="api", **fields)


def count_commits(database: Database) -> list[int]:
    commits: list[int] = []
    event.listen(database.engine.sync_engine, "commit", lambda _connection: commits.append(1))
    return commits


async def test_alerts_handed_over_together_are_one_transaction(database: Database) -> None:
    writer = AlertWriter(database, Policy())
    commits = count_commits(database)
    answers = await asyncio.gather(*(writer.record(report(f"m{n}")) for n in range(20)))
    assert len(commits) == 1
    records = [record for record, created in answers if created and record is not None]
    assert [record.message for record in records] == [f"m{n}" for n in range(20)]
    assert len({record.id for record in records}) == 20
    async with database.session() as session:
        deliveries = await session.scalar(select(func.count()).select_from(Delivery))
    assert deliveries == 20  # each alert's delivery committed with it


async def test_a_batch_inserts_its_alerts_and_their_deliveries_in_one_statement_each(
    database: Database,
) -> None:
    writer = AlertWriter(database, Policy())
    inserts: list[str] = []
    event.listen(
        database.engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cursor, statement, *_: inserts.append(statement.split("(")[0].strip()),
    )
    reports = [
        Trigger(message=f"m{n}", channels=[f"a{n}", f"b{n}"], source="api") for n in range(20)
    ]
    answers = await asyncio.gather(*(writer.record(one) for one in reports))
    assert inserts.count("INSERT INTO alerts") == 1
    assert inserts.count("INSERT INTO deliveries") == 1
    async with database.session() as session:
        rows = (
            await session.execute(
                select(AlertRecord.id, AlertRecord.message, Delivery.channel).join(Delivery)
            )
        ).all()
    # each row got its own alert's id back, and each delivery belongs to its alert
    assert {(record.id, record.message) for record, _ in answers if record} == {
        (alert_id, message) for alert_id, message, _ in rows
    }
    assert all(channel[1:] == message[1:] for _, message, channel in rows)
    assert len(rows) == 40


async def test_a_dedup_key_twice_in_one_batch_is_one_alert_seen_twice(database: Database) -> None:
    writer = AlertWriter(database, Policy())
    answers = await asyncio.gather(*(writer.record(report("m", dedup_key="k")) for _ in range(3)))
    assert [created for _, created in answers] == [True, False, False]
    assert len({record.id for record, _ in answers if record is not None}) == 1
    async with database.session() as session:
        occurrences = await session.scalar(select(AlertRecord.occurrences))
    assert occurrences == 3


async def test_a_key_reused_with_another_body_fails_alone(database: Database) -> None:
    writer = AlertWriter(database, Policy())
    async with database.session() as session:
        user = await create_user(session, "alice", "correct horse battery")
    mine = report("m", created_by_id=user.id)
    await writer.record(mine, key="k", digest="first body")
    answers = await asyncio.gather(
        writer.record(mine, key="k", digest="another body"),
        writer.record(report("plain")),
        writer.record(mine, key="k", digest="first body"),
        return_exceptions=True,
    )
    assert isinstance(answers[0], InvalidInput)
    assert answers[1][1] is True  # type: ignore[index]
    assert answers[2][1] is False  # type: ignore[index]


async def test_more_concurrent_requests_than_pooled_connections_all_answer(
    app: Quart, client: Client
) -> None:
    """A request holds no connection while its alert waits for the writer (a fresh token, so
    every request looks it up in the database)."""
    user = await add_user(app, "bob")
    async with get_db(app).session() as session:
        bearer = {"Authorization": f"Bearer {await create_token(session, user)}"}
    responses = await asyncio.gather(
        *(client.post("/api/alerts", json={"message": f"m{n}"}, headers=bearer) for n in range(40))
    )
    assert [response.status_code for response in responses] == [202] * 40
    ids = {(await response.get_json())["id"] for response in responses}
    async with get_db(app).session() as session:
        stored = set(await session.scalars(select(AlertRecord.id)))
    assert ids == stored
    assert len(ids) == 40


async def test_a_batch_that_loses_a_race_is_recorded_one_by_one(
    database: Database, database_kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process opens an alert with the batch's dedup key and commits while the batch
    waits on it (PostgreSQL: the batch's insert then fails on the unique index): the batch is
    rolled back and each alert recorded on its own, the racing one as seen again."""
    caplog.set_level(logging.DEBUG, logger="herald.writer")
    writer = AlertWriter(database, Policy())
    async with database.session() as other:  # "another process", its transaction held open
        winner, _ = await trigger(other, report("winner", dedup_key="k"), Policy(), commit=False)
        batch = asyncio.gather(
            writer.record(report("racer", dedup_key="k")), writer.record(report("plain"))
        )
        await blocked_on_the_other(database, database_kind)
        await other.commit()
    (racer, racer_new), (plain, plain_new) = await batch
    assert racer is not None
    assert racer.id == winner.id
    assert not racer_new
    assert plain is not None
    assert plain_new
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(AlertRecord)) == 2
        occurrences = await session.scalar(
            select(AlertRecord.occurrences).where(AlertRecord.id == winner.id)
        )
    assert occurrences == 2
    assert ("lost a race" in caplog.text) is (database_kind == "postgresql")


async def blocked_on_the_other(database: Database, database_kind: str) -> None:
    """Return once the batch waits for the other transaction (PostgreSQL: on the unique
    index). SQLite has no such race: the batch waits for the write lock, or starts after
    the commit, and sees the winner's alert either way."""
    if database_kind == "sqlite":
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        async with database.session() as session:
            waiting = await session.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the batch never waited for the other transaction")
