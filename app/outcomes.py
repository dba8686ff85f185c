"""Writing outcomes in batches: one transaction for the outcomes that finish together.

Each attempt's outcome (the delivery's new state and its history row) must be committed
before the dispatcher counts the delivery as done. Committed one by one, every outcome costs
a transaction and, with ``synchronous=FULL`` or PostgreSQL's fsync, a flush to disk. The
:class:`OutcomeWriter` writes the first outcome at once; those that arrive while it is
being written wait and go together in the next transaction, and so on. An idle dispatcher
writes each outcome as soon as it has it; a busy one writes hundreds per commit. Every
caller still returns only once its own outcome is committed (or with the error that kept it
from being).
"""

from __future__ import annotations

import asyncio

from app.deliveries import DeliveryQueue, Outcome

MAX_BATCH = 500  # outcomes per transaction at most


class OutcomeWriter:
    """Writes outcomes through ``queue``, batching those that arrive while one is written."""

    def __init__(self, queue: DeliveryQueue, max_batch: int = MAX_BATCH) -> None:
        self.queue = queue
        self.max_batch = max_batch
        self._waiting: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, outcome: Outcome) -> None:
        """Return once ``outcome`` is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((outcome, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="herald-outcomes")
        await done

    async def drain(self) -> None:
        """Wait until every outcome handed over so far is written (or failed)."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_all(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            try:
                await self.queue.record_many([outcome for outcome, _ in batch])
            except Exception as error:  # each caller hears why its outcome was not written
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
