"""Recording alerts and describing them: shared by the dashboard, the API and the CLI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.links import get_links
from app.models import AlertRecord, Delivery

if TYPE_CHECKING:
    from app.channelset import ChannelSet


class UnknownChannelError(ValueError):
    """An alert named channels that are not configured."""

    def __init__(self, unknown: Iterable[str], known: Iterable[str]) -> None:
        self.unknown = sorted(unknown)
        self.known = sorted(known)
        super().__init__(
            f"unknown channel(s): {', '.join(self.unknown)}; "
            f"configured channels: {', '.join(self.known)}"
        )


def channels_for(
    channels: ChannelSet, severity: str, requested: Iterable[str] | None = None
) -> list[str]:
    """The channels an alert goes to: ``requested`` (checked) if given, else the severity's
    route, else every configured channel."""
    if requested is None and severity in channels.routes:
        requested = channels.routes[severity]
    return choose_channels(requested, channels)


def choose_channels(requested: Iterable[str] | None, configured: Iterable[str]) -> list[str]:
    """The channels an alert goes to: ``requested`` (checked) or every configured one."""
    known = list(configured)
    if requested is None:
        return known
    chosen = list(dict.fromkeys(requested))  # keeps order, drops repeats
    unknown = set(chosen) - set(known)
    if unknown:
        raise UnknownChannelError(unknown, known)
    return chosen


async def get_alert_with_history(session: AsyncSession, alert_id: int) -> AlertRecord | None:
    """The alert, its deliveries and every attempt at each (for the alert page)."""
    records = await alerts_as_they_are(session, [alert_id], history=True)
    return records[0] if records else None


async def alerts_as_they_are(
    session: AsyncSession, ids: Iterable[int], *, history: bool = False
) -> list[AlertRecord]:
    """The alerts with these ids and their deliveries, read afresh from the database, with
    every attempt at each when ``history`` is true."""
    deliveries = selectinload(AlertRecord.deliveries)
    stmt = (
        select(AlertRecord)
        .where(AlertRecord.id.in_(list(ids)))
        .order_by(AlertRecord.id)
        .options(deliveries.selectinload(Delivery.history) if history else deliveries)
        .execution_options(populate_existing=True)
    )
    return list(await session.scalars(stmt))


async def get_alert(session: AsyncSession, alert_id: int) -> AlertRecord | None:
    """The alert with its deliveries as they are now in the database."""
    stmt = (
        select(AlertRecord)
        .where(AlertRecord.id == alert_id)
        .execution_options(populate_existing=True)
    )
    record: AlertRecord | None = await session.scalar(stmt)
    return record


@dataclass(frozen=True)
class AlertFilter:
    """What the history is narrowed to; empty fields do not filter."""

    severity: str = ""
    status: str = ""  # alerts with at least one delivery in this status
    channel: str = ""  # alerts with a delivery on this channel
    text: str = ""  # in the title or the message, any case

    def apply(self, stmt: Select[AlertRecord]) -> Select[AlertRecord]:
        """``stmt`` narrowed by every field that is set."""
        if self.severity:
            stmt = stmt.where(AlertRecord.severity == self.severity)
        deliveries = select(Delivery.alert_id)
        if self.status:
            deliveries = deliveries.where(Delivery.status == self.status)
        if self.channel:
            deliveries = deliveries.where(Delivery.channel == self.channel)
        if self.status or self.channel:
            stmt = stmt.where(AlertRecord.id.in_(deliveries))
        if self.text:  # autoescape: % and _ in the text match themselves
            stmt = stmt.where(
                or_(
                    AlertRecord.title.icontains(self.text, autoescape=True),
                    AlertRecord.message.icontains(self.text, autoescape=True),
                )
            )
        return stmt


async def recent_alerts(
    session: AsyncSession,
    *,
    limit: int,
    before: int | None = None,
    where: AlertFilter | None = None,
) -> list[AlertRecord]:
    """Up to ``limit`` alerts, newest first, with ids below ``before`` when given."""
    stmt = select(AlertRecord).order_by(AlertRecord.id.desc()).limit(limit)
    if before is not None:
        stmt = stmt.where(AlertRecord.id < before)
    if where is not None:
        stmt = where.apply(stmt)
    return list(await session.scalars(stmt))


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """The API's view of one delivery."""
    return {
        "channel": delivery.channel,
        "notification": delivery.notification,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "error": delivery.error,
        "latency_ms": delivery.latency_ms,
        "finished_at": iso(delivery.finished_at),
        "next_attempt_at": iso(delivery.next_attempt_at),
        "provider_ref": delivery.provider_ref,
        "detail": delivery.detail,
    }


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 text for a timestamp, None for None."""
    return moment.isoformat() if moment else None


def alert_json(record: AlertRecord) -> dict[str, Any]:
    """The API's view of one alert and its deliveries."""
    return {
        "id": record.id,
        "uid": record.uid,
        "title": record.title,
        "message": record.message,
        "severity": record.severity,
        "status": record.status,
        "state": record.state,
        "dedup_key": record.dedup_key,
        "labels": record.labels or {},
        "links": record.links or [],
        "occurrences": record.occurrences,
        "created_at": record.created_at.isoformat(),
        "last_seen_at": record.last_seen_at.isoformat(),
        "acknowledged_by": record.acknowledged_by,
        "acknowledged_at": iso(record.acknowledged_at),
        "resolved_at": iso(record.resolved_at),
        "silenced": record.silenced,
        "silence_id": record.silence_id,
        "url": get_links().page(record.id),
        "deliveries": [delivery_json(d) for d in record.deliveries],
    }
