"""Outcomes that finish together are written in one transaction, each caller answered only
once its own outcome is committed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import Database, get_db
from app.deliveries import Claim, DeliveryQueue, Outcome
from app.lifecycle import record_alert
from app.models import Delivery, DeliveryAttempt, DeliveryStatus, utcnow
from app.outcomes import OutcomeWriter
from tests.conftest import migrated_app

pytestmark = pytest.mark.storage


class GatedQueue(DeliveryQueue):
    """Holds its first write until the test opens the gate; counts what each write carried."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, "worker-1", lease=timedelta(seconds=30))
        self.started, self.gate = asyncio.Event(), asyncio.Event()
        self.batches: list[int] = []

    async def record_many(self, outcomes: Sequence[Outcome]) -> None:
        self.batches.append(len(outcomes))
        if len(self.batches) == 1:
            self.started.set()
            await self.gate.wait()
        await super().record_many(outcomes)


async def test_outcomes_arriving_during_a_write_go_together_in_the_next(
    settings: dict[str, Any],
) -> None:
    app = await migrated_app(settings)
    async with get_db(app).connected() as database:
        async with database.session() as session:
            record = await record_alert(session, message="m", channels=["recording"], source="t")
        queue = GatedQueue(database)
        claims = await queue.claim(10)
        assert len(claims) == 1
        writer = OutcomeWriter(queue)

        def outcome(number: int) -> Outcome:
            now = utcnow()
            attempt = {
                "delivery_id": claims[0].delivery_id,
                "number": number,
                "outcome": DeliveryStatus.SENT,
                "error": None,
                "started_at": now,
                "finished_at": now,
                "latency_ms": 1.0,
                "worker": "worker-1",
            }
            return Outcome(claims[0], attempt, {"status": DeliveryStatus.SENT})

        first = asyncio.create_task(writer.write(outcome(1)))
        await queue.started.wait()  # the first write has started, and holds
        rest = [asyncio.create_task(writer.write(outcome(n))) for n in range(2, 42)]
        await asyncio.sleep(0)  # one turn of the loop: each hands its outcome over
        assert not any(task.done() for task in [first, *rest])  # nobody answered early
        queue.gate.set()
        await asyncio.gather(first, *rest)
        assert queue.batches == [1, 40]
        async with database.session() as session:
            count = await session.scalar(select(func.count()).select_from(DeliveryAttempt))
            status = await session.scalar(
                select(Delivery.status).where(Delivery.alert_id == record.id)
            )
        assert count == 41
        assert status == DeliveryStatus.SENT


async def test_a_failed_write_fails_every_outcome_of_it(settings: dict[str, Any]) -> None:
    class BrokenQueue(DeliveryQueue):
        async def record_many(self, outcomes: Sequence[Outcome]) -> None:
            raise ConnectionError("database away")

    app = await migrated_app(settings)
    async with get_db(app).connected() as database:
        writer = OutcomeWriter(BrokenQueue(database, "w", timedelta(seconds=30)))
        claim = Claim(1, 1, "recording", 1)
        with pytest.raises(ConnectionError):
            await writer.write(Outcome(claim, {"delivery_id": 1, "number": 1}, {}))
