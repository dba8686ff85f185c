"""One alert to several recipients (SMS numbers, webhook URLs, Apprise services, browsers),
concurrently, with progress that survives the process.

A recipient that was served is recorded in the channel's :class:`~channels.base.RecipientLog`
under a SHA-256 digest of its address (addresses may hold secrets, such as a webhook URL's
token). Herald keeps that log in its database per delivery, so a retry claimed by any process
goes only to the recipients still missing. Served recipients are written in batches while
the send runs (a process that dies mid-way repeats at most one batch; 10,000 recipients
cost 100 writes, not 10,000), and the rest only when some recipient failed: a delivery that
reached everyone is recorded as sent and never resumed. With a single recipient there is
nothing to keep. Outside Herald's app (no log bound), progress is kept in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Sequence

from channels.base import (
    Alert,
    Channel,
    DeliveryError,
    PermanentDeliveryError,
    Receipt,
    RecipientLog,
    TransientDeliveryError,
)

logger = logging.getLogger("herald.channels")


def recipient_key(recipient: str) -> str:
    """What a recipient is recorded as: the SHA-256 hex digest of its address."""
    return hashlib.sha256(recipient.encode()).hexdigest()


class MemoryRecipientLog:
    """A :class:`~channels.base.RecipientLog` in this process, for the most recent alerts."""

    def __init__(self, remember: int = 1024) -> None:
        self._served: OrderedDict[tuple[str, str], set[str]] = OrderedDict()
        self._remember = remember

    @staticmethod
    def _key(alert: Alert, channel: str) -> tuple[str, str]:
        return (alert.uid or str(alert.id), channel)

    def _entry(self, alert: Alert, channel: str) -> set[str]:
        key = self._key(alert, channel)
        served = self._served.setdefault(key, set())
        self._served.move_to_end(key)
        while len(self._served) > self._remember:
            self._served.popitem(last=False)
        return served

    async def served(self, alert: Alert, channel: str) -> set[str]:
        """The recipient keys already served with ``alert`` on ``channel``."""
        return set(self._served.get(self._key(alert, channel), ()))

    async def add(self, alert: Alert, channel: str, keys: Collection[str]) -> None:
        """Record ``keys`` as served."""
        self._entry(alert, channel).update(keys)


class FanOut:
    """Delivers one alert to several recipients for ``channel``, at most ``concurrency`` at
    once (10,000 recipients cost 10,000 small tasks, not 10,000 open connections)."""

    def __init__(self, channel: Channel, concurrency: int = 50, batch: int = 100) -> None:
        self._channel = channel
        self._concurrency = concurrency
        self._batch = batch
        self._memory = MemoryRecipientLog()

    @property
    def log(self) -> RecipientLog:
        """The log bound to the channel, or this fan-out's own memory."""
        return self._channel.context.recipients or self._memory

    async def send(
        self,
        alert: Alert,
        recipients: Sequence[str],
        send_one: Callable[[str], Awaitable[str | None]],
        label: Callable[[str], str] = str,
    ) -> Receipt:
        """Call ``send_one`` for every recipient not yet served; sum up the outcome."""
        keys = {recipient: recipient_key(recipient) for recipient in recipients}
        # one recipient has no progress to keep: the delivery's own status says it all
        log = self.log if len(keys) > 1 else None
        served = await log.served(alert, self._channel.name) & set(keys.values()) if log else set()
        pending = [r for r in keys if keys[r] not in served]
        progress = _Progress(log, alert, self._channel.name, self._batch)
        slots = asyncio.Semaphore(self._concurrency)

        async def bounded(recipient: str) -> str | None:
            async with slots:
                reference = await send_one(recipient)
            await progress.add(keys[recipient])
            return reference

        results = await asyncio.gather(*(bounded(r) for r in pending), return_exceptions=True)
        if any(isinstance(result, BaseException) for result in results):
            await progress.flush()  # a retry will want it; a delivery all sent does not
        return summarise(dict(zip(pending, results, strict=True)), len(keys), served, label)


class _Progress:
    """Served recipients of one send, written to the log a batch at a time."""

    def __init__(self, log: RecipientLog | None, alert: Alert, channel: str, batch: int) -> None:
        self.log, self.alert, self.channel, self.batch = log, alert, channel, batch
        self.unwritten: list[str] = []

    async def add(self, key: str) -> None:
        self.unwritten.append(key)
        if len(self.unwritten) >= self.batch:
            await self.flush()

    async def flush(self) -> None:
        keys, self.unwritten = self.unwritten, []
        if not keys or self.log is None:
            return
        try:
            await self.log.add(self.alert, self.channel, keys)
        except Exception:  # they were served; losing the record costs repeats on a retry only
            logger.warning("could not record %s served recipients", len(keys), exc_info=True)


def summarise(
    results: dict[str, str | BaseException | None],
    total: int,
    served_before: Collection[str],
    label: Callable[[str], str],
) -> Receipt:
    """One receipt (or error) for the whole fan-out: transient if any failure may pass,
    permanent if nobody was ever served, else a receipt that names who failed."""
    references: list[str] = []
    errors: dict[str, DeliveryError] = {}
    for recipient, result in results.items():
        if isinstance(result, DeliveryError):
            errors[recipient] = result
        elif isinstance(result, BaseException):
            raise result
        elif result:
            references.append(result)
    reference = ", ".join(references) or None
    if not errors:
        return Receipt(reference=reference)
    summary = "; ".join(f"{label(r)}: {e}" for r, e in errors.items())
    transient = [e for e in errors.values() if isinstance(e, TransientDeliveryError)]
    if transient:
        waits = [e.retry_after for e in transient if e.retry_after is not None]
        raise TransientDeliveryError(summary, retry_after=max(waits) if waits else None)
    if len(errors) == len(results) and not served_before:
        raise PermanentDeliveryError(summary)
    return Receipt(reference=reference, detail=f"failed for {len(errors)} of {total}: {summary}")
