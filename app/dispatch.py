"""The concurrent fan-out: one alert to all its channels at once, each outcome recorded.

Every channel runs under its own ``CHANNEL_TIMEOUT`` inside one ``asyncio.gather``; a channel
that raises or hangs is recorded as failed without delaying or cancelling the others, so an
alert takes as long as its slowest channel, never the sum. A transient failure (timeout,
connection error, 5xx, 429) is retried with exponential backoff and full jitter, honouring
the provider's ``Retry-After`` up to ``RETRY_MAX_DELAY``; the delivery shows ``retrying``
meanwhile. A permanent failure is not retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from quart import Quart, current_app
from sqlalchemy import update

import config as settings
from app.alerts import choose_channels, get_alert
from app.db import Database, get_db
from app.models import Delivery, DeliveryStatus, utcnow
from app.push import DatabasePushStore
from channels.base import Alert, Channel, ChannelContext, Receipt, TransientDeliveryError

logger = logging.getLogger("herald.dispatch")
USER_AGENT = "Herald/0.1 (+alert gateway)"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait before attempt ``n + 1`` after a transient failure of attempt ``n``."""

    base: float = 1.0
    max_delay: float = 60.0
    max_attempts: int = 5

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Full jitter: uniform in ``[0, min(cap, base * 2**(attempt-1))]``; Retry-After wins."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What finally happened to one alert on one channel."""

    channel: str
    status: DeliveryStatus
    error: str | None
    latency_ms: float
    attempts: int


def describe_error(error: BaseException, timeout: float) -> str:
    """A short, user-facing account of why a send failed."""
    if isinstance(error, TimeoutError):
        return f"timed out after {timeout:g} s"
    text = str(error) or "no details"
    return f"{type(error).__name__}: {text}"


def is_retryable(error: BaseException) -> bool:
    """Transient provider errors and Herald's own per-attempt timeout are worth another try."""
    return isinstance(error, TransientDeliveryError | TimeoutError)


class Dispatcher:
    """Sends alerts in background tasks and records each delivery's attempts and outcome."""

    def __init__(
        self,
        database: Database,
        channels: Mapping[str, Channel],
        *,
        timeout: float,
        retry: RetryPolicy,
        routes: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.database = database
        self.channels = channels
        self.timeout = timeout
        self.retry = retry
        self.routes = routes or {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._http: httpx.AsyncClient | None = None

    def channels_for(self, severity: str, requested: Iterable[str] | None = None) -> list[str]:
        """The channels an alert goes to: ``requested`` if given, else the severity's route."""
        if requested is None and severity in self.routes:
            requested = self.routes[severity]
        return choose_channels(requested, self.channels)

    async def start(self) -> None:
        """Open the shared HTTP client and hand it, with the other resources, to the channels."""
        self._http = httpx.AsyncClient(
            timeout=self.timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=False
        )
        context = ChannelContext(
            http=self._http, push_subscriptions=DatabasePushStore(self.database)
        )
        for channel in self.channels.values():
            channel.bind(context)

    async def stop(self, grace: float) -> None:
        """Let dispatches finish for up to ``grace`` s, cancel the rest, close the client."""
        tasks = set(self._tasks.values())
        if tasks:
            _, unfinished = await asyncio.wait(tasks, timeout=grace)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Dispatcher]:
        """Started for the length of a block (the CLI); stopped afterwards."""
        await self.start()
        try:
            yield self
        finally:
            await self.stop(grace=self.timeout)

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
        async with self.database.session() as session:
            record = await get_alert(session, alert_id)
            if record is None:
                raise LookupError(f"alert {alert_id} does not exist")
            alert = record.to_alert()
            pending = [
                (d.id, d.channel) for d in record.deliveries if d.status == DeliveryStatus.PENDING
            ]
        return list(await asyncio.gather(*(self._deliver(alert, i, n) for i, n in pending)))

    async def _background(self, alert_id: int) -> None:
        try:
            await self.dispatch_alert(alert_id)
        except Exception:  # nobody awaits a background task: say what went wrong here
            logger.exception("dispatching alert %s failed", alert_id)

    async def _attempt(
        self, alert: Alert, name: str
    ) -> tuple[Receipt | None, BaseException | None]:
        channel = self.channels.get(name)
        try:
            if channel is None:
                raise LookupError(f"channel {name!r} is no longer configured")
            async with asyncio.timeout(self.timeout):
                return (await channel.send(alert) or Receipt()), None
        except Exception as error:  # a channel's failure is data, not a crash
            return None, error

    async def _deliver(self, alert: Alert, delivery_id: int, name: str) -> DeliveryOutcome:
        attempt = 0
        while True:
            attempt += 1
            await self._update(
                delivery_id,
                status=DeliveryStatus.SENDING,
                attempts=attempt,
                started_at=utcnow(),
                next_attempt_at=None,
            )
            started = time.perf_counter()
            receipt, error = await self._attempt(alert, name)
            latency_ms = round((time.perf_counter() - started) * 1000, 1)
            if error is None:
                assert receipt is not None
                await self._update(
                    delivery_id,
                    status=DeliveryStatus.SENT,
                    error=None,
                    latency_ms=latency_ms,
                    finished_at=utcnow(),
                    provider_ref=receipt.reference,
                    detail=receipt.detail,
                )
                return DeliveryOutcome(name, DeliveryStatus.SENT, None, latency_ms, attempt)
            message = describe_error(error, self.timeout)
            logger.warning("alert %s on %s, attempt %s: %s", alert.id, name, attempt, message)
            if not is_retryable(error) or attempt >= self.retry.max_attempts:
                await self._update(
                    delivery_id,
                    status=DeliveryStatus.FAILED,
                    error=message,
                    latency_ms=latency_ms,
                    finished_at=utcnow(),
                )
                return DeliveryOutcome(name, DeliveryStatus.FAILED, message, latency_ms, attempt)
            delay = self.retry.delay(attempt, getattr(error, "retry_after", None))
            await self._update(
                delivery_id,
                status=DeliveryStatus.RETRYING,
                error=message,
                latency_ms=latency_ms,
                next_attempt_at=utcnow() + timedelta(seconds=delay),
            )
            await asyncio.sleep(delay)

    async def _update(self, delivery_id: int, **values: Any) -> None:
        async with self.database.session() as session:
            await session.execute(
                update(Delivery).where(Delivery.id == delivery_id).values(**values)
            )
            await session.commit()


def get_dispatcher(app: Quart | None = None) -> Dispatcher:
    """The app's :class:`Dispatcher`."""
    dispatcher: Dispatcher = (app or current_app).extensions["herald.dispatcher"]
    return dispatcher


def check_routes(routes: Mapping[str, list[str]] | None, channels: Mapping[str, Channel]) -> None:
    """Every channel a route names must be configured."""
    for severity, names in (routes or {}).items():
        unknown = [name for name in names if name not in channels]
        if unknown:
            known = ", ".join(channels)
            raise settings.ConfigError(
                f"ROUTES: {severity!r} names unknown channel(s) {', '.join(unknown)}; "
                f"configured: {known}"
            )


def init_app(app: Quart, channels: Mapping[str, Channel]) -> None:
    """Attach a dispatcher for ``channels``; it starts and stops with serving."""
    check_routes(app.config["ROUTES"], channels)
    retry = RetryPolicy(
        base=float(app.config["RETRY_BASE"]),
        max_delay=float(app.config["RETRY_MAX_DELAY"]),
        max_attempts=int(app.config["RETRY_MAX_ATTEMPTS"]),
    )
    dispatcher = Dispatcher(
        get_db(app),
        channels,
        timeout=float(app.config["CHANNEL_TIMEOUT"]),
        retry=retry,
        routes=app.config["ROUTES"],
    )
    app.extensions["herald.dispatcher"] = dispatcher

    @app.while_serving
    async def run_dispatcher() -> AsyncGenerator[None, None]:
        await dispatcher.start()
        yield
        await dispatcher.stop(grace=dispatcher.timeout + 1)
