"""Prometheus metrics at ``GET /metrics``.

Counts that every instance shares (deliveries by channel and status, queue depth, oldest
pending age) are read from the database at scrape time; the latency histogram and attempt
counter are this process's own. Access: a bearer ``METRICS_TOKEN`` when one is set, else
loopback clients only.
"""

from __future__ import annotations

import hmac
import ipaddress

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from quart import Quart, Response, current_app, request
from sqlalchemy import func, select

from app.db import get_db
from app.deliveries import due_condition
from app.dispatch import get_dispatcher
from app.models import FINAL_STATUSES, AlertRecord, Delivery, utcnow

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """One registry per app, so several apps (tests) never share a metric."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "herald_delivery_latency_seconds",
            "Time one delivery attempt took, by channel.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.attempts = Counter(
            "herald_delivery_attempts",
            "Delivery attempts made by this process, by channel and outcome.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.deliveries = Gauge(
            "herald_deliveries",
            "Stored deliveries by channel and status.",
            ["channel", "status"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "herald_queue_depth", "Deliveries due to be sent now.", registry=self.registry
        )
        self.oldest_pending = Gauge(
            "herald_oldest_pending_age_seconds",
            "Age of the oldest delivery not yet sent or failed.",
            registry=self.registry,
        )

    def observe(self, channel: str, status: str, latency_ms: float) -> None:
        """Record one attempt's outcome (the dispatcher calls this)."""
        self.latency.labels(channel).observe(latency_ms / 1000)
        self.attempts.labels(channel, status).inc()

    async def refresh(self, app: Quart) -> None:
        """Read the shared counts from the database."""
        now = utcnow()
        unfinished = Delivery.status.not_in(FINAL_STATUSES)
        async with get_db(app).session() as session:
            counts = await session.execute(
                select(Delivery.channel, Delivery.status, func.count()).group_by(
                    Delivery.channel, Delivery.status
                )
            )
            depth = await session.scalar(select(func.count()).where(due_condition(now)))
            started = await session.scalar(
                select(func.min(AlertRecord.created_at))
                .join(Delivery, Delivery.alert_id == AlertRecord.id)
                .where(unfinished)
            )
        self.deliveries.clear()
        for channel, status, count in counts:
            self.deliveries.labels(channel, status).set(count)
        self.queue_depth.set(depth or 0)
        self.oldest_pending.set((now - started).total_seconds() if started else 0)


def allowed() -> bool:
    """The bearer metrics token when one is configured, else a loopback client."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(sent.encode(), str(token).encode())
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def get_metrics(app: Quart | None = None) -> Metrics:
    """The app's :class:`Metrics`."""
    metrics: Metrics = (app or current_app).extensions["herald.metrics"]
    return metrics


def init_app(app: Quart) -> None:
    """Attach the metrics and feed them from the dispatcher."""
    metrics = Metrics()
    app.extensions["herald.metrics"] = metrics
    get_dispatcher(app).on_outcome.append(metrics.observe)


def exposition(metrics: Metrics) -> Response:
    """The registry in Prometheus text format."""
    return Response(generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST)
