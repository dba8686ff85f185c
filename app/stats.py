"""The last day's delivery statistics per channel, and their chart's geometry.

The charts are drawn by a template as inline SVG (no script, no outside assets): this module
works out the numbers and where each bar ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Delivery, DeliveryAttempt, DeliveryStatus
from app.templating import duration, percent

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
    stats = []
    for name in names:
        finished = counts.get(name, {})
        made, mean, slowest = attempts.get(name, (0, None, None))
        sent, failed = finished.get(DeliveryStatus.SENT, 0), finished.get(DeliveryStatus.FAILED, 0)
        stats.append(ChannelStats(name, sent, failed, made, mean, slowest))
    return stats


@dataclass(frozen=True)
class Bar:
    """One channel's bar in a chart."""

    channel: str
    width: float  # in SVG user units, out of Panel.BAR_WIDTH
    value: str  # the figure, as shown beside the bar
    css: str


@dataclass(frozen=True)
class Panel:
    """One bar chart, a bar per channel, drawn as SVG by the stats template. Sizes are SVG user
    units: a column of labels, the bars, then room for the figures. The page shows its panels
    side by side, or one above the other on a narrow screen."""

    LABEL_WIDTH: ClassVar[int] = 110
    BAR_WIDTH: ClassVar[int] = 200
    WIDTH: ClassVar[int] = LABEL_WIDTH + BAR_WIDTH + 70
    TOP: ClassVar[int] = 34
    ROW_HEIGHT: ClassVar[int] = 30

    measure: str
    heading: str
    bars: list[Bar]

    @property
    def height(self) -> int:
        """The chart's height for its number of bars."""
        return self.TOP + self.ROW_HEIGHT * len(self.bars) + 4


def rate_class(rate: float | None) -> str:
    """``rate-good``, ``rate-fair`` or ``rate-poor``: the success bar's colour."""
    rate = rate or 0.0
    return "rate-good" if rate >= 0.99 else "rate-fair" if rate >= 0.9 else "rate-poor"


def panels(stats: list[ChannelStats]) -> list[Panel]:
    """The stats page's charts: success rates on a 0-100 % scale, and mean latencies against
    the slowest channel's."""
    full = Panel.BAR_WIDTH
    slowest = max((s.mean_latency_ms or 0.0 for s in stats), default=0.0)
    scale = f" (full bar: {duration(slowest)})" if slowest else ""
    slowest = slowest or 1.0
    rates = [
        Bar(s.channel, round(full * (s.success_rate or 0.0), 1), percent(s.success_rate),
            rate_class(s.success_rate))
        for s in stats
    ]  # fmt: skip
    latencies = [
        Bar(s.channel, round(full * (s.mean_latency_ms or 0.0) / slowest, 1),
            duration(s.mean_latency_ms), "latency")
        for s in stats
    ]  # fmt: skip
    return [
        Panel("success-rate", "Success rate", rates),
        Panel("latency", f"Mean latency{scale}", latencies),
    ]
