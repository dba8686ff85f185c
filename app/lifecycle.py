"""An alert's life: triggered, seen again, acknowledged, resolved.

A trigger with a ``dedup_key`` that an open (not resolved) alert carries does not make a new
alert: it counts an occurrence on that one and sends nothing, unless the alert is still
firing (not acknowledged, not silenced) and ``REPEAT_INTERVAL`` has passed since its
channels were last told: then each channel of its first notification gets a repeat. One
open alert per key is the database's rule (a unique index on open alerts' keys), so two
concurrent triggers with a new key make one alert, and the loser counts as seen again.

A trigger that a silence matches is recorded, ``silenced``, with no deliveries. Resolving
gives up what was not sent yet and, with ``SEND_RESOLVED``, tells each channel that got the
firing notification (or is sending it) that the alert is resolved. Every step is one
transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from quart import Quart, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import get_alert
from app.models import (
    FIRST_NOTIFICATION,
    RESOLVED_NOTIFICATION,
    AlertRecord,
    Delivery,
    DeliveryStatus,
    Lifecycle,
    Silence,
    utcnow,
)
from app.silences import active_silences, matchable, silence_among

NOT_SENT_BECAUSE_RESOLVED = "not sent: the alert was resolved first"


@dataclass(frozen=True, slots=True)
class Trigger:
    """An alert as a source reports it, already validated."""

    message: str
    channels: Sequence[str]
    source: str
    title: str = ""
    severity: str = "info"
    dedup_key: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    links: Sequence[Mapping[str, str]] = ()
    created_by_id: int | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """The lifecycle settings: ``REPEAT_INTERVAL`` and ``SEND_RESOLVED``."""

    repeat_interval: timedelta = timedelta(hours=4)
    send_resolved: bool = True


class AlertResolvedError(Exception):
    """The alert is resolved: it cannot be acknowledged any more."""


async def trigger(
    session: AsyncSession,
    report: Trigger,
    policy: Policy,
    *,
    commit: bool = True,
    now: datetime | None = None,
) -> tuple[AlertRecord, bool]:
    """Record ``report``: (the new alert, True), or (the open alert with its dedup key,
    False). With ``commit`` false the transaction is left open for the caller."""
    now = now or utcnow()
    try:
        record, created = await add_trigger(session, report, policy, now)
        await (session.commit() if commit else session.flush())
    except IntegrityError:  # a concurrent trigger with the same key made the alert first
        await session.rollback()
        seen = None
        if report.dedup_key:
            seen = await seen_again(session, report.dedup_key, policy, now, commit=commit)
        if seen is None:
            raise
        return seen, False
    return record, created


async def add_trigger(
    session: AsyncSession,
    report: Trigger,
    policy: Policy,
    now: datetime,
    silences: Sequence[Silence] | None = None,
) -> tuple[AlertRecord, bool]:
    """:func:`trigger` inside the caller's transaction, checked against ``silences`` (the
    active ones when None); a new alert with a dedup key is flushed, so that a later trigger
    in the same transaction counts as seen again, one without is left for the commit."""
    if report.dedup_key:
        seen = await seen_again(session, report.dedup_key, policy, now, commit=False)
        if seen is not None:
            return seen, False
    if silences is None:
        silences = await active_silences(session, now)
    record = new_alert(report, now, silences)
    session.add(record)
    if report.dedup_key:
        await session.flush()
    return record, True


async def record_alert(
    session: AsyncSession,
    *,
    message: str,
    channels: Sequence[str],
    source: str,
    commit: bool = True,
    **fields: Any,
) -> AlertRecord:
    """A new alert for ``channels`` with no dedup key (the dashboard's form, the CLI):
    :func:`trigger` with the other ``Trigger`` fields as given."""
    report = Trigger(message=message, channels=channels, source=source, **fields)
    record, _ = await trigger(session, report, Policy(), commit=commit)
    return record


def get_policy(app: Quart | None = None) -> Policy:
    """The lifecycle settings of ``app``."""
    config = (app or current_app).config
    return Policy(
        repeat_interval=timedelta(seconds=int(config["REPEAT_INTERVAL"])),
        send_resolved=bool(config["SEND_RESOLVED"]),
    )


def new_alert(report: Trigger, now: datetime, silences: Sequence[Silence]) -> AlertRecord:
    """The alert ``report`` makes: with a delivery per channel, or silenced by the first of
    ``silences`` that matches it."""
    silence = silence_among(silences, matchable(report.labels, report.severity, report.dedup_key))
    return AlertRecord(
        title=report.title,
        message=report.message,
        severity=report.severity,
        source=report.source,
        created_by_id=report.created_by_id,
        dedup_key=report.dedup_key,
        labels=dict(report.labels),
        links=[dict(link) for link in report.links],
        created_at=now,
        last_seen_at=now,
        silenced=silence is not None,
        silence_id=silence.id if silence else None,
        notified_at=None if silence else now,
        deliveries=[] if silence else [Delivery(channel=name) for name in report.channels],
    )


async def seen_again(
    session: AsyncSession, dedup_key: str, policy: Policy, now: datetime, *, commit: bool = True
) -> AlertRecord | None:
    """Count one more occurrence of the open alert with ``dedup_key`` and repeat its first
    notification if that is due; None when no open alert has the key."""
    counted = (
        update(AlertRecord)
        .where(AlertRecord.dedup_key == dedup_key, AlertRecord.state != Lifecycle.RESOLVED)
        .values(occurrences=AlertRecord.occurrences + 1, last_seen_at=now)
        .returning(AlertRecord.id)
        .execution_options(synchronize_session=False)
    )
    alert_id = await session.scalar(counted)
    if alert_id is None:
        return None
    due = (
        update(AlertRecord)
        .where(
            AlertRecord.id == alert_id,
            AlertRecord.state == Lifecycle.FIRING,
            AlertRecord.notified_at <= now - policy.repeat_interval,
        )
        .values(notified_at=now, repeats=AlertRecord.repeats + 1)
        .returning(AlertRecord.repeats)
        .execution_options(synchronize_session=False)
    )
    repeat = await session.scalar(due)
    if repeat is not None:
        for channel in await _channels_of(session, alert_id, [FIRST_NOTIFICATION]):
            session.add(
                Delivery(alert_id=alert_id, channel=channel, notification=f"repeat-{repeat}")
            )
    await (session.commit() if commit else session.flush())
    return await get_alert(session, alert_id)


async def _channels_of(
    session: AsyncSession,
    alert_id: int,
    notifications: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
) -> list[str]:
    """The channels of the alert's deliveries of these notifications, in these statuses."""
    statement = select(Delivery.channel).where(Delivery.alert_id == alert_id).distinct()
    if notifications is not None:
        statement = statement.where(Delivery.notification.in_(notifications))
    if statuses is not None:
        statement = statement.where(Delivery.status.in_(statuses))
    return sorted(await session.scalars(statement))


async def acknowledge(
    session: AsyncSession, alert_id: int, by: str, now: datetime | None = None
) -> AlertRecord | None:
    """Mark a firing alert acknowledged by ``by`` (no more repeats); one acknowledged already
    stays as it was. None when there is no such alert; AlertResolvedError once resolved."""
    record = await get_alert(session, alert_id)
    if record is None:
        return None
    if record.state == Lifecycle.RESOLVED:
        raise AlertResolvedError(f"Alert {alert_id} is resolved already.")
    await session.execute(
        update(AlertRecord)
        .where(AlertRecord.id == alert_id, AlertRecord.state == Lifecycle.FIRING)
        .values(state=Lifecycle.ACKNOWLEDGED, acknowledged_by=by, acknowledged_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return await get_alert(session, alert_id)


async def resolve(
    session: AsyncSession, alert_id: int, policy: Policy, now: datetime | None = None
) -> AlertRecord | None:
    """Resolve the alert (see the module docstring); one resolved already stays as it was.
    None when there is no such alert."""
    now = now or utcnow()
    resolved = await session.scalar(
        update(AlertRecord)
        .where(AlertRecord.id == alert_id, AlertRecord.state != Lifecycle.RESOLVED)
        .values(state=Lifecycle.RESOLVED, resolved_at=now)
        .returning(AlertRecord.id)
        .execution_options(synchronize_session=False)
    )
    if resolved is not None:
        await session.execute(
            update(Delivery)
            .where(
                Delivery.alert_id == alert_id,
                Delivery.notification != RESOLVED_NOTIFICATION,
                Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.RETRYING]),
            )
            .values(
                status=DeliveryStatus.FAILED,
                error=NOT_SENT_BECAUSE_RESOLVED,
                finished_at=now,
                next_attempt_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        if policy.send_resolved:
            told = [DeliveryStatus.SENT, DeliveryStatus.SENDING]
            for channel in await _channels_of(session, alert_id, statuses=told):
                session.add(
                    Delivery(alert_id=alert_id, channel=channel, notification=RESOLVED_NOTIFICATION)
                )
        await session.commit()
    return await get_alert(session, alert_id)


async def open_alert_id(session: AsyncSession, dedup_key: str) -> int | None:
    """The id of the open (not resolved) alert with ``dedup_key``, if there is one."""
    statement = select(AlertRecord.id).where(
        AlertRecord.dedup_key == dedup_key, AlertRecord.state != Lifecycle.RESOLVED
    )
    alert_id: int | None = await session.scalar(statement)
    return alert_id
