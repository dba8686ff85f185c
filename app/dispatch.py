"""The concurrent fan-out: one alert to all its channels at once, each outcome recorded.

Every channel runs under its own ``CHANNEL_TIMEOUT`` inside one ``asyncio.gather``; a channel
that raises or hangs is recorded as failed without delaying or cancelling the others, so an
alert takes as long as its slowest channel, never the sum.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass

from quart import Quart, current_app
from sqlalchemy import update

from app.alerts import get_alert
from app.db import Database, get_db
from app.models import Delivery, DeliveryStatus, utcnow
from channels.base import Alert, Channel

logger = logging.getLogger("herald.dispatch")


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What happened to one alert on one channel."""

    channel: str
    status: DeliveryStatus
    error: str | None
    latency_ms: float


def describe_error(error: BaseException, timeout: float) -> str:
    """A short, user-facing account of why a send failed."""
    if isinstance(error, TimeoutError):
        return f"timed out after {timeout:g} s"
    text = str(error) or "no details"
    return f"{type(error).__name__}: {text}"


class Dispatcher:
    """Sends alerts in background tasks and records each delivery's outcome."""

    def __init__(self, database: Database, channels: Mapping[str, Channel], timeout: float) -> None:
        self.database = database
        self.channels = channels
        self.timeout = timeout
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def submit(self, alert_id: int) -> None:
        """Start delivering ``alert_id`` in the background and return at once."""
        task = asyncio.create_task(self._background(alert_id), name=f"herald-alert-{alert_id}")
        self._tasks[alert_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(alert_id, None))

    async def wait(self, alert_id: int, seconds: float) -> bool:
        """Wait up to ``seconds`` for a submitted alert; tell whether it has finished."""
        task = self._tasks.get(alert_id)
        if task is None:
            return True
        done, _ = await asyncio.wait({task}, timeout=seconds)
        return bool(done)

    async def dispatch_alert(self, alert_id: int) -> list[DeliveryOutcome]:
        """Send every pending delivery of ``alert_id`` concurrently; return the outcomes."""
        alert, deliveries = await self._start(alert_id)
        sends = (self._deliver(alert, d.id, d.channel) for d in deliveries)
        return list(await asyncio.gather(*sends))

    async def _background(self, alert_id: int) -> None:
        try:
            await self.dispatch_alert(alert_id)
        except Exception:  # nobody awaits a background task: say what went wrong here
            logger.exception("dispatching alert %s failed", alert_id)

    async def _start(self, alert_id: int) -> tuple[Alert, list[Delivery]]:
        async with self.database.session() as session:
            record = await get_alert(session, alert_id)
            if record is None:
                raise LookupError(f"alert {alert_id} does not exist")
            pending = [d for d in record.deliveries if d.status == DeliveryStatus.PENDING]
            now = utcnow()
            for delivery in pending:
                delivery.status = DeliveryStatus.SENDING
                delivery.started_at = now
                delivery.attempts += 1
            await session.commit()
            return record.to_alert(), pending

    async def _deliver(self, alert: Alert, delivery_id: int, name: str) -> DeliveryOutcome:
        started = time.perf_counter()
        error: str | None = None
        try:
            channel = self.channels.get(name)
            if channel is None:
                raise LookupError(f"channel {name!r} is no longer configured")
            async with asyncio.timeout(self.timeout):
                await channel.send(alert)
        except Exception as exc:  # a channel's failure is data, not a crash
            error = describe_error(exc, self.timeout)
            logger.warning("alert %s on %s failed: %s", alert.id, name, error)
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        status = DeliveryStatus.FAILED if error else DeliveryStatus.SENT
        await self._record(delivery_id, status, error, latency_ms)
        return DeliveryOutcome(name, status, error, latency_ms)

    async def _record(
        self, delivery_id: int, status: DeliveryStatus, error: str | None, latency_ms: float
    ) -> None:
        async with self.database.session() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(status=status, error=error, latency_ms=latency_ms, finished_at=utcnow())
            )
            await session.commit()

    async def close(self, grace: float) -> None:
        """Let running dispatches finish for up to ``grace`` s, then cancel the rest."""
        tasks = set(self._tasks.values())
        if not tasks:
            return
        _, unfinished = await asyncio.wait(tasks, timeout=grace)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)


def get_dispatcher(app: Quart | None = None) -> Dispatcher:
    """The app's :class:`Dispatcher`."""
    dispatcher: Dispatcher = (app or current_app).extensions["herald.dispatcher"]
    return dispatcher


def init_app(app: Quart, channels: Mapping[str, Channel]) -> None:
    """Attach a dispatcher for ``channels``; it drains in-flight alerts at shutdown."""
    dispatcher = Dispatcher(get_db(app), channels, float(app.config["CHANNEL_TIMEOUT"]))
    app.extensions["herald.dispatcher"] = dispatcher

    @app.while_serving
    async def drain_on_shutdown() -> AsyncGenerator[None, None]:
        yield
        await dispatcher.close(grace=dispatcher.timeout + 1)
