"""The last day's delivery statistics per channel, and their chart's geometry.

The chart is drawn by a template as inline SVG (no script, no outside assets): this module
only works out the numbers and where each bar ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Delivery, DeliveryAttempt, DeliveryStatus

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class ChannelStats:
    """One channel's deliveries finished, and attempts made, in the window."""

    channel: str
    sent: int = 0
    failed: int = 0
    attempts: int = 0
    mean_latency_ms: float | None = None  # of the attempts that delivered
    max_latency_ms: float | None = None

    @property
    def success_rate(self) -> float | None:
        """The share of finished deliveries that were sent; None when none finished."""
        finished = self.sent + self.failed
        return self.sent / finished if finished else None


async def channel_stats(
    session: AsyncSession, channels: Iterable[str], since: datetime
) -> list[ChannelStats]:
    """Statistics since ``since`` for ``channels`` (in that order), then for any other
    channel that has deliveries in the window (one since removed from the configuration)."""
    outcomes = (
        select(Delivery.channel, Delivery.status, func.count())
        .where(Delivery.finished_at >= since)
        .group_by(Delivery.channel, Delivery.status)
    )
    delivered = DeliveryAttempt.outcome == DeliveryStatus.SENT
    timings = (
        select(
            Delivery.channel,
            func.count(),
            func.avg(case((delivered, DeliveryAttempt.latency_ms))),
            func.max(case((delivered, DeliveryAttempt.latency_ms))),
        )
        .join(DeliveryAttempt.delivery)
        .where(DeliveryAttempt.started_at >= since)
        .group_by(Delivery.channel)
    )
    counts: dict[str, dict[str, int]] = {}
    for channel, status, count in await session.execute(outcomes):
        counts.setdefault(channel, {})[status] = count
    attempts = {row[0]: row[1:] for row in await session.execute(timings)}
    names = list(dict.fromkeys([*channels, *sorted(counts), *sorted(attempts)]))
    return [
        ChannelStats(
            name,
            sent=counts.get(name, {}).get(DeliveryStatus.SENT, 0),
            failed=counts.get(name, {}).get(DeliveryStatus.FAILED, 0),
            attempts=attempts.get(name, (0, None, None))[0],
            mean_latency_ms=attempts.get(name, (0, None, None))[1],
            max_latency_ms=attempts.get(name, (0, None, None))[2],
        )
        for name in names
    ]


@dataclass(frozen=True)
class ChartRow:
    """One channel's row of the chart and the length of its two bars."""

    stats: ChannelStats
    rate_width: float
    latency_width: float

    @property
    def rate_class(self) -> str:
        """``good``, ``fair`` or ``poor``, for the success bar's colour."""
        rate = self.stats.success_rate or 0.0
        return "good" if rate >= 0.99 else "fair" if rate >= 0.9 else "poor"


@dataclass(frozen=True)
class Chart:
    """Bars for the success rate (0-100 %) and the mean latency (against the slowest channel),
    laid out in SVG user units: a label column, then the two panels."""

    LABEL_WIDTH: ClassVar[int] = 130
    PANEL_WIDTH: ClassVar[int] = 220
    GAP: ClassVar[int] = 60
    TOP: ClassVar[int] = 34
    ROW_HEIGHT: ClassVar[int] = 30
    WIDTH: ClassVar[int] = LABEL_WIDTH + 2 * PANEL_WIDTH + 2 * GAP
    LATENCY_X: ClassVar[int] = LABEL_WIDTH + PANEL_WIDTH + GAP

    rows: list[ChartRow]
    latency_scale_ms: float  # the mean latency that a full-width bar stands for

    @property
    def height(self) -> int:
        """The chart's height for its number of rows."""
        return self.TOP + self.ROW_HEIGHT * len(self.rows) + 10

    @classmethod
    def of(cls, stats: list[ChannelStats]) -> Chart:
        """The chart of ``stats``."""
        slowest = max((s.mean_latency_ms or 0.0 for s in stats), default=0.0) or 1.0
        rows = [
            ChartRow(
                s,
                rate_width=round(cls.PANEL_WIDTH * (s.success_rate or 0.0), 1),
                latency_width=round(cls.PANEL_WIDTH * (s.mean_latency_ms or 0.0) / slowest, 1),
            )
            for s in stats
        ]
        return cls(rows, latency_scale_ms=slowest)
