"""Writing outcomes in batches: one transaction for the outcomes that finish together.

Each attempt's outcome (the delivery's new state and its history row) must be committed
before the dispatcher counts the delivery as done. Committed one by one, every outcome costs
a transaction and, with ``synchronous=FULL`` or PostgreSQL's fsync, a flush to disk; as a
group commit (``app/batching.py``) an idle dispatcher writes each outcome as soon as it has
it and a busy one hundreds per commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.batching import GroupCommit
from app.deliveries import DeliveryQueue, Outcome

MAX_BATCH = 500  # outcomes per transaction at most


class OutcomeWriter:
    """Writes outcomes through ``queue``, batching those that arrive while one is written."""

    def __init__(self, queue: DeliveryQueue, max_batch: int = MAX_BATCH) -> None:
        self.queue = queue
        self._group = GroupCommit(self._write_batch, max_batch=max_batch, name="herald-outcomes")

    async def write(self, outcome: Outcome) -> None:
        """Return once ``outcome`` is committed."""
        await self._group.submit(outcome)

    async def drain(self) -> None:
        """Wait until every outcome handed over so far is written (or failed)."""
        await self._group.drain()

    async def _write_batch(self, outcomes: list[Outcome]) -> Sequence[None]:
        await self.queue.record_many(outcomes)
        return [None] * len(outcomes)
