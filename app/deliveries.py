"""The delivery table as a queue: every statement the dispatcher runs on it, and nothing else.

A :class:`DeliveryQueue` belongs to one worker (one serving process, or the CLI). It claims
due deliveries under a lease, renews and releases that worker's leases, records each
attempt's outcome with its history row, and answers when an alert's next retry is due. It
knows nothing of events, tasks or channels: ``app/dispatch.py`` decides when to call it.
:class:`DatabaseRecipientLog` keeps, per delivery, which recipients a fan-out has served.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, Update, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from app.db import Database
from app.models import (
    ALERT_VALUE_COLUMNS,
    FINAL_STATUSES,
    AlertRecord,
    Delivery,
    DeliveryAttempt,
    DeliveryRecipient,
    DeliveryStatus,
    alert_value,
    utcnow,
)
from channels.base import Alert

DELIVERIES = cast(Table, Delivery.__table__)


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery a worker holds the lease on."""

    delivery_id: int
    alert_id: int
    channel: str
    attempt: int
    notification: str = "firing"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt at a claimed delivery came to, as it is to be written."""

    claim: Claim
    attempt: dict[str, Any]  # the history row: every column of DeliveryAttempt but its id
    values: dict[str, Any]


@functools.lru_cache(maxsize=64)
def outcome_update(names: tuple[str, ...]) -> Update:
    """The statement that writes an outcome setting the columns ``names``: parameters
    ``delivery_id`` and ``new_<name>``, run for many rows at once. Only a delivery this
    worker still holds is written."""
    column = DELIVERIES.c
    return (
        update(DELIVERIES)
        .where(column.id == bindparam("delivery_id"), column.claimed_by == bindparam("worker"))
        .values({name: bindparam(f"new_{name}") for name in names})
    )


def due_condition(now: datetime) -> ColumnElement[bool]:
    """Deliveries that may be sent now: queued and due, or held by a lease that expired."""
    queued = DELIVERIES.c.status.in_([DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
    next_attempt_at = DELIVERIES.c.next_attempt_at
    due = or_(next_attempt_at.is_(None), next_attempt_at <= now)
    abandoned = and_(DELIVERIES.c.status == DeliveryStatus.SENDING, DELIVERIES.c.lease_until < now)
    return or_(and_(queued, due), abandoned)


class DeliveryQueue:
    """The delivery table seen by one worker, ``worker_id``, whose leases last ``lease``."""

    def __init__(self, database: Database, worker_id: str, lease: timedelta) -> None:
        self.database = database
        self.worker_id = worker_id
        self.lease = lease

    async def claim(self, limit: int, alert_id: int | None = None) -> list[Claim]:
        """Claim up to ``limit`` due deliveries (of one alert, if given) until ``now + lease``:
        one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``."""
        now, column = utcnow(), DELIVERIES.c
        due = select(column.id).where(due_condition(now))
        if alert_id is not None:
            due = due.where(column.alert_id == alert_id)
        due = due.order_by(column.id).limit(limit).with_for_update(skip_locked=True)
        statement = (  # on the table, not the ORM class: the rows are plain claims
            update(DELIVERIES)
            .where(column.id.in_(due.scalar_subquery()))
            .values(
                status=DeliveryStatus.SENDING,
                claimed_by=self.worker_id,
                lease_until=now + self.lease,
                attempts=column.attempts + 1,
                started_at=now,
                next_attempt_at=None,
            )
            .returning(
                column.id, column.alert_id, column.channel, column.attempts, column.notification
            )
        )
        async with self.database.session() as session:
            rows = (await session.execute(statement)).all()
            await session.commit()
        return [Claim(*row) for row in rows]

    async def renew(self, delivery_ids: Iterable[int], until: datetime) -> set[int]:
        """Extend this worker's leases on ``delivery_ids`` to ``until``; return the ids whose
        lease it holds (the others were claimed by another worker meanwhile)."""
        ids = set(delivery_ids)
        if not ids:
            return set()
        statement = (
            update(Delivery)
            .where(
                Delivery.id.in_(ids),
                Delivery.claimed_by == self.worker_id,
                Delivery.status == DeliveryStatus.SENDING,  # a lapsed lease no one took is ours
            )
            .values(lease_until=until)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        async with self.database.session() as session:
            held = set((await session.scalars(statement)).all())
            await session.commit()
        return held

    async def record_many(self, outcomes: Sequence[Outcome]) -> None:
        """Several outcomes, each delivery's state with its history row, in one transaction:
        one commit (one fsync) for all of them, one statement per kind of outcome."""
        kinds: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for outcome in outcomes:
            values = {f"new_{name}": value for name, value in outcome.values.items()}
            kind = tuple(sorted(outcome.values))
            row = {"delivery_id": outcome.claim.delivery_id, "worker": self.worker_id, **values}
            kinds.setdefault(kind, []).append(row)
        async with self.database.session() as session:
            for kind, rows in kinds.items():
                await session.execute(outcome_update(kind), rows)
            await session.execute(
                insert(DeliveryAttempt), [outcome.attempt for outcome in outcomes]
            )
            await session.commit()

    async def release(self) -> int:
        """Give back what this worker claimed but did not finish, as it was before; return
        how many deliveries that was."""
        statement = (
            update(Delivery)
            .where(Delivery.claimed_by == self.worker_id, Delivery.status == DeliveryStatus.SENDING)
            .values(
                status=case(
                    (Delivery.attempts > 1, DeliveryStatus.RETRYING), else_=DeliveryStatus.PENDING
                ),
                attempts=Delivery.attempts - 1,
                claimed_by=None,
                lease_until=None,
                next_attempt_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        async with self.database.session() as session:
            released = int((await session.execute(statement)).rowcount or 0)  # type: ignore[attr-defined]
            await session.commit()
        return released

    async def alerts(self, ids: set[int]) -> dict[int, Alert]:
        """The alerts with these ids, as the channels receive their first notification."""
        if not ids:
            return {}
        # the columns an Alert needs, as rows: no ORM objects, no deliveries
        alerts = cast(Table, AlertRecord.__table__)
        statement = select(*(alerts.c[name] for name in ALERT_VALUE_COLUMNS)).where(
            alerts.c.id.in_(ids)
        )
        async with self.database.session() as session:
            rows = await session.execute(statement)
            return {row.id: alert_value(row) for row in rows}

    async def next_attempt_in(self, alert_id: int) -> float | None:
        """Seconds until the alert's next retry is due; None when nothing is left to send."""
        async with self.database.session() as session:
            count, due = (
                await session.execute(
                    select(func.count(), func.min(Delivery.next_attempt_at)).where(
                        Delivery.alert_id == alert_id, Delivery.status.not_in(FINAL_STATUSES)
                    )
                )
            ).one()
        if not count:
            return None
        if due is None:
            return 0.0
        if due.tzinfo is None:
            due = due.replace(tzinfo=utcnow().tzinfo)
        return max(0.0, (due - utcnow()).total_seconds())


def of_notification(alert: Alert, channel: str) -> ColumnElement[bool]:
    """The delivery of this notification of the alert on ``channel``."""
    return and_(
        Delivery.alert_id == alert.id,
        Delivery.channel == channel,
        Delivery.notification == alert.notification,
    )


class DatabaseRecipientLog:
    """Fan-out progress (:class:`channels.base.RecipientLog`) kept with each delivery, so that
    a retry claimed by any process skips the recipients already served."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def served(self, alert: Alert, channel: str) -> set[str]:
        """The recipient keys the alert's delivery on ``channel`` has served."""
        statement = (
            select(DeliveryRecipient.recipient)
            .join(Delivery, Delivery.id == DeliveryRecipient.delivery_id)
            .where(of_notification(alert, channel))
        )
        async with self.database.session() as session:
            return set((await session.scalars(statement)).all())

    async def add(self, alert: Alert, channel: str, keys: Collection[str]) -> None:
        """Record ``keys`` as served by the alert's delivery on ``channel``."""
        delivery = select(Delivery.id).where(of_notification(alert, channel))
        async with self.database.session() as session:
            delivery_id = await session.scalar(delivery)
            if delivery_id is None:  # purged meanwhile: nothing left to resume
                return
            rows = [{"delivery_id": delivery_id, "recipient": key} for key in keys]
            await session.execute(insert(DeliveryRecipient), rows)
            await session.commit()
