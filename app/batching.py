"""Group commit: what arrives while one batch is written goes together in the next.

A commit is the dear part of recording anything: round trips to the database's thread
(SQLite) or server (PostgreSQL) and a flush to disk. A :class:`GroupCommit` writes the first
item at once; items that arrive while that write is under way wait and go together in the
next one, and so on. Idle, each item is written as soon as it comes; busy, hundreds go in
one transaction, and the commits per second stay flat while the items per commit grow. No
timer: nothing waits for company. Every caller returns only once its own item is committed,
with its own answer (or the error that kept it from being written); an item handed over is
written even if its caller stops waiting.

The writer task is started by the first item and ends when nothing is waiting, so there is
nothing to start with the app; :meth:`GroupCommit.drain` waits for it at shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")


class GroupCommit(Generic[Item, Answer]):
    """Writes items with ``write_batch``, which gets a batch of up to ``max_batch`` items and
    returns one answer or exception for each, in order."""

    def __init__(
        self,
        write_batch: Callable[[list[Item]], Awaitable[Sequence[Answer | Exception]]],
        *,
        max_batch: int,
        name: str,
    ) -> None:
        self.write_batch = write_batch
        self.max_batch = max_batch
        self.name = name
        self._waiting: list[tuple[Item, asyncio.Future[Answer]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Answer:
        """Return ``item``'s answer once it is committed (or raise why it was not)."""
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name=self.name)
        return await answer

    async def drain(self) -> None:
        """Wait until every item handed over so far is written (or failed)."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_all(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            try:
                answers: Sequence[Answer | Exception] = await self.write_batch(
                    [item for item, _ in batch]
                )
            except Exception as error:  # each caller hears why its item was not written
                answers = [error] * len(batch)
            except BaseException:  # cancelled (the loop is closing): nobody waits forever
                for _, future in [*batch, *self._waiting]:
                    future.cancel()
                self._waiting.clear()
                raise
            for (_, future), answer in zip(batch, answers, strict=True):
                if future.done():  # its caller stopped waiting (the item is written all the same)
                    continue
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)
