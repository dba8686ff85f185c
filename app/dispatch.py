"""Durable, concurrent delivery: the database is the queue, every process a worker.

An accepted alert is committed with one ``pending`` delivery per channel before the client
hears back. In every serving process a :class:`Dispatcher` claims due deliveries with a lease
(``claimed_by``, ``lease_until``), sends them concurrently (at most
``MAX_CONCURRENT_DELIVERIES`` at once, each under ``CHANNEL_TIMEOUT``) and records each
outcome. A transient failure becomes a ``retrying`` row with ``next_attempt_at`` (exponential
backoff with full jitter, honouring ``Retry-After``); a permanent one is ``failed``. If a
process dies, its leases expire and another claims the deliveries again: delivery is
at-least-once, and channels give receivers ids that stay the same across attempts.

Claiming is one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``,
so two processes never claim the same row (on SQLite the write lock serialises them).

A lease must not lapse while its process lives, or another process sends the delivery a
second time: on a busy machine a claimed delivery may wait seconds before its send starts,
and its outcome as long before it is recorded. So every process renews the leases of its
deliveries in flight every third of ``LEASE_SECONDS``, and right before calling a channel it
makes sure the lease still runs for the whole send (``CHANNEL_TIMEOUT`` and a margin),
renewing it if it can and leaving the delivery alone if another process has claimed it.
Repeats then happen only when a process dies (or clocks disagree by more than the margin).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Sequence,
)
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from quart import Quart, current_app

from app.channelset import ChannelSet
from app.db import Database, get_db
from app.deliveries import Claim, DeliveryQueue, Outcome
from app.links import get_links
from app.models import (
    FINAL_STATUSES,
    DeliveryStatus,
    as_notification,
    utcnow,
)
from app.outcomes import OutcomeWriter
from channels.base import (
    Alert,
    Receipt,
    TransientDeliveryError,
)

logger = logging.getLogger("herald.dispatch")


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
    """What one attempt at one delivery came to."""

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
    """Claims due deliveries, sends them, records the outcomes; one per serving process."""

    def __init__(
        self,
        database: Database,
        channels: ChannelSet,
        *,
        timeout: float,
        retry: RetryPolicy,
        lease_seconds: float = 30.0,
        max_concurrent: int = 100,
        poll_interval: float = 1.0,
        present: Callable[[Alert, str], Alert] = as_notification,
    ) -> None:
        self.database = database
        self.channels = channels
        self.present = present  # the alert as one of its notifications goes out
        self.timeout = timeout
        self.retry = retry
        self.lease = timedelta(seconds=lease_seconds)
        # What a lease must still have left when a send starts (see the module docstring).
        self.lease_needed = timedelta(
            seconds=timeout + max(0.0, min(2.0, (lease_seconds - timeout) / 2))
        )
        self._leases: dict[int, datetime] = {}  # delivery id -> lease_until, as this set it
        self.max_concurrent = max_concurrent
        self.poll_interval = poll_interval
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.queue = DeliveryQueue(database, self.worker_id, self.lease)
        self.outcomes = OutcomeWriter(self.queue)
        # Called with (channel, status, latency in ms) after every attempt: the metrics listen.
        self.on_outcome: list[Callable[[str, str, float], None]] = []
        self._wakeup = asyncio.Event()
        self._progress = asyncio.Event()
        self._sending: dict[int, Claim] = {}  # delivery id -> claim, while this sends it
        self._tasks: set[asyncio.Task[None]] = set()  # one per alert being sent
        self._loop: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._stopping = False

    # -- life cycle ------------------------------------------------------------------------

    async def open(self) -> None:
        """Give the channels their shared resources (the HTTP client)."""
        await self.channels.open(self.database)

    async def close(self) -> None:
        """Close the channels' shared resources."""
        await self.channels.close()

    async def start(self) -> None:
        """Open the resources and start claiming in the background."""
        await self.open()
        self._stopping = False
        self._loop = asyncio.create_task(self._run(), name="herald-dispatcher")
        self._renewer = asyncio.create_task(self._renew_loop(), name="herald-lease-renewal")

    async def stop(self, grace: float) -> None:
        """Stop claiming, let sends in flight finish for up to ``grace`` s, give back the rest."""
        self._stopping = True
        self._wakeup.set()
        if self._loop is not None:
            await self._loop
        tasks = set(self._tasks)
        if tasks:
            _, unfinished = await asyncio.wait(tasks, timeout=grace)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
        await self.outcomes.drain()
        try:
            await self._release_leases()
        except Exception:  # shutting down must not fail; the leases will expire instead
            logger.exception("could not release leases; they expire in %s", self.lease)
        await self.close()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Dispatcher]:
        """Open for the length of a block without claiming in the background (the CLI)."""
        await self.open()
        try:
            yield self
        finally:
            await self.close()

    @property
    def alive(self) -> bool:
        """Whether the background claiming loop is running."""
        return self._loop is not None and not self._loop.done()

    def notify(self) -> None:
        """New work was recorded: claim it now instead of at the next poll."""
        self._wakeup.set()

    # -- the claiming loop -------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()  # before claiming: a wake-up during the claim is not lost
            free = self.max_concurrent - len(self._sending)
            claims: list[Claim] = []
            try:
                claims = await self._claim(free) if free > 0 else []
                await self._start_all(claims)
            except Exception:  # the database may be briefly away; keep trying
                logger.exception("claiming deliveries failed; retrying in %ss", self.poll_interval)
            if claims and len(claims) == free:
                continue  # there may be more due right now
            with suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wakeup.wait()

    async def _start_all(self, claims: Sequence[Claim]) -> None:
        alerts = await self.queue.alerts({c.alert_id for c in claims})
        by_alert: dict[int, list[Claim]] = {}
        for claim in claims:
            by_alert.setdefault(claim.alert_id, []).append(claim)
            self._sending[claim.delivery_id] = claim
        for alert_id, alert_claims in by_alert.items():
            task = asyncio.create_task(self._send_together(alerts[alert_id], alert_claims))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_together(self, alert: Alert, claims: Sequence[Claim]) -> None:
        """One alert's claimed deliveries side by side (``asyncio.gather``); each outcome is
        recorded, and its slot freed, as soon as that channel is done."""
        outcomes = await asyncio.gather(
            *(self._send_one(alert, claim) for claim in claims), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                logger.error("delivery task failed", exc_info=outcome)

    async def _send_one(self, alert: Alert, claim: Claim) -> DeliveryOutcome:
        try:
            return await self._process(alert, claim)
        finally:
            self._sending.pop(claim.delivery_id, None)
            self._wakeup.set()  # a slot is free

    async def _claim(self, limit: int, alert_id: int | None = None) -> list[Claim]:
        until = utcnow() + self.lease  # taken first: no later than the database's lease_until
        claims = await self.queue.claim(limit, alert_id)
        if claims:
            self._made_progress()  # the claimed deliveries are now "sending"
        self._leases.update((claim.delivery_id, until) for claim in claims)
        return claims

    # -- leases ------------------------------------------------------------------------------

    async def _renew_loop(self) -> None:
        """Renew the leases of the deliveries in flight every third of the lease."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await self.renew_leases(set(self._sending))
            except Exception:  # the database may be briefly away; the next round tries again
                logger.exception("renewing the leases of deliveries in flight failed")

    async def renew_leases(self, delivery_ids: set[int]) -> set[int]:
        """Extend this process's leases on ``delivery_ids`` that it still holds; return the
        ids whose lease it holds (the others were claimed by another process meanwhile)."""
        until = utcnow() + self.lease
        held = await self.queue.renew(delivery_ids, until)
        self._leases.update((delivery_id, until) for delivery_id in held)
        return held

    async def _lease_covers_send(self, claim: Claim) -> bool:
        """Whether this process's lease on ``claim`` runs for the whole send; renewed in the
        database when it would lapse too soon (see the module docstring)."""
        until = self._leases.get(claim.delivery_id)
        if until is not None and until - utcnow() >= self.lease_needed:
            return True
        return claim.delivery_id in await self.renew_leases({claim.delivery_id})

    # -- one attempt -------------------------------------------------------------------------

    async def attempt(self, alert: Alert, name: str) -> tuple[Receipt | None, Exception | None]:
        """Send ``alert`` once on channel ``name`` within the timeout, recording nothing: the
        receipt, or the error the channel (or the timeout) raised."""
        channel = self.channels.get(name)
        try:
            if channel is None:
                raise LookupError(f"channel {name!r} is no longer configured")
            async with asyncio.timeout(self.timeout):
                return (await channel.send(alert) or Receipt()), None
        except Exception as error:  # a channel's failure is data, not a crash
            return None, error

    async def _process(self, alert: Alert, claim: Claim) -> DeliveryOutcome:
        try:
            notification = self.present(alert, claim.notification)
            return await self._attempt_under_lease(notification, claim)
        finally:
            self._leases.pop(claim.delivery_id, None)  # held no more, whatever happened

    async def _attempt_under_lease(self, alert: Alert, claim: Claim) -> DeliveryOutcome:
        if not await self._lease_covers_send(claim):
            logger.warning(
                "alert %s on %s: the lease lapsed before sending; another process has it",
                alert.id,
                claim.channel,
            )
            return DeliveryOutcome(claim.channel, DeliveryStatus.SENDING, None, 0.0, claim.attempt)
        started_at, started = utcnow(), time.perf_counter()
        receipt, error = await self.attempt(alert, claim.channel)
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        # claimed_by stays: it tells which process made the last attempt
        values: dict[str, Any] = {"latency_ms": latency_ms, "lease_until": None}
        if error is None:
            assert receipt is not None
            status, message = DeliveryStatus.SENT, None
            values |= {"provider_ref": receipt.reference, "detail": receipt.detail}
        else:
            message = describe_error(error, self.timeout)
            logger.warning(
                "alert %s on %s, attempt %s: %s", alert.id, claim.channel, claim.attempt, message
            )
            status = DeliveryStatus.FAILED
            if is_retryable(error) and claim.attempt < self.retry.max_attempts:
                status = DeliveryStatus.RETRYING
                delay = self.retry.delay(claim.attempt, getattr(error, "retry_after", None))
                values["next_attempt_at"] = utcnow() + timedelta(seconds=delay)
        finished_at = utcnow()
        if status in FINAL_STATUSES:
            values["finished_at"] = finished_at
        attempt = {
            "delivery_id": claim.delivery_id,
            "number": claim.attempt,
            "outcome": status,
            "error": message,
            "started_at": started_at,
            "finished_at": finished_at,
            "latency_ms": latency_ms,
            "worker": self.worker_id,
        }
        await self._record(claim, attempt, status=status, error=message, **values)
        for observe in self.on_outcome:
            observe(claim.channel, status, latency_ms)
        return DeliveryOutcome(claim.channel, status, message, latency_ms, claim.attempt)

    async def _record(self, claim: Claim, attempt: dict[str, Any], **values: Any) -> None:
        await self.outcomes.write(Outcome(claim, attempt, values))
        self._made_progress()

    def _made_progress(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    def next_change(self) -> asyncio.Event:
        """An event set when this process next changes any delivery's state; take it before
        looking at the deliveries, so that a change made while looking is not missed."""
        return self._progress

    async def _release_leases(self) -> None:
        """Give back what this process claimed but did not finish, as it was before."""
        released = await self.queue.release()
        if released:
            logger.info("released %s unfinished deliveries for the next start", released)

    # -- whole alerts (the CLI, Prefer: wait) ------------------------------------------------

    async def dispatch_alert(self, alert_id: int) -> list[DeliveryOutcome]:
        """Send one alert's deliveries in this process until each is sent or failed."""
        finals: dict[int, DeliveryOutcome] = {}  # by delivery id: the order they were created
        while True:
            claims = await self._claim(self.max_concurrent, alert_id=alert_id)
            alerts = await self.queue.alerts({alert_id}) if claims else {}
            outcomes = await asyncio.gather(*(self._process(alerts[alert_id], c) for c in claims))
            for claim, outcome in zip(claims, outcomes, strict=True):
                if outcome.status in FINAL_STATUSES:
                    finals[claim.delivery_id] = outcome
            waiting = await self.queue.next_attempt_in(alert_id)
            if waiting is None:
                return [finals[key] for key in sorted(finals)]
            await asyncio.sleep(waiting)

    async def wait_for_alert(self, alert_id: int, seconds: float) -> bool:
        """Wait up to ``seconds`` until every delivery of the alert is sent or failed, by this
        process or another; tell whether that happened."""
        deadline = time.monotonic() + seconds
        while True:
            change = self.next_change()
            if await self.queue.next_attempt_in(alert_id) is None:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            # other processes' progress only shows by polling
            await wait_for(change, min(0.25, remaining))


async def wait_for(event: asyncio.Event, seconds: float) -> None:
    """Return when ``event`` is set or after ``seconds``, whichever comes first."""
    with suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


def get_dispatcher(app: Quart | None = None) -> Dispatcher:
    """The app's :class:`Dispatcher`."""
    dispatcher: Dispatcher = (app or current_app).extensions["herald.dispatcher"]
    return dispatcher


def init_app(app: Quart, channels: ChannelSet) -> None:
    """Attach a dispatcher for ``channels``; it claims work while the app serves."""
    config = app.config
    dispatcher = Dispatcher(
        get_db(app),
        channels,
        timeout=float(config["CHANNEL_TIMEOUT"]),
        retry=RetryPolicy(
            base=float(config["RETRY_BASE"]),
            max_delay=float(config["RETRY_MAX_DELAY"]),
            max_attempts=int(config["RETRY_MAX_ATTEMPTS"]),
        ),
        lease_seconds=float(config["LEASE_SECONDS"]),
        max_concurrent=int(config["MAX_CONCURRENT_DELIVERIES"]),
        poll_interval=float(config["DISPATCH_POLL_INTERVAL"]),
        present=get_links(app).notification,
    )
    app.extensions["herald.dispatcher"] = dispatcher

    @app.while_serving
    async def run_dispatcher() -> AsyncGenerator[None, None]:
        await dispatcher.start()
        yield
        await dispatcher.stop(grace=dispatcher.timeout + 1)
