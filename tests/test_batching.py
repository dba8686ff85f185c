"""Group commit: items handed over during a write go together in the next, each caller gets
its own answer, and an item is written even when its caller stops waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from app.batching import GroupCommit


class GatedWrites:
    """Holds its first write until the test opens the gate; keeps every batch it got."""

    def __init__(self) -> None:
        self.started, self.gate = asyncio.Event(), asyncio.Event()
        self.batches: list[list[int]] = []

    async def __call__(self, items: list[int]) -> Sequence[int | Exception]:
        self.batches.append(items)
        if len(self.batches) == 1:
            self.started.set()
            await self.gate.wait()
        return [ValueError(f"odd {item}") if item % 2 else item * 10 for item in items]


async def during_a_held_write(
    items: range,
) -> tuple[GatedWrites, GroupCommit[int, int], asyncio.Task[int], list[asyncio.Task[int]]]:
    """A group whose first write (of item 0) holds, and callers of ``items`` that handed
    their items over while it does."""
    writes = GatedWrites()
    group = GroupCommit(writes, max_batch=100, name="test")
    first = asyncio.create_task(group.submit(0))
    await writes.started.wait()
    rest = [asyncio.create_task(group.submit(item)) for item in items]
    await asyncio.sleep(0)  # one turn of the loop: each task runs up to its handover
    return writes, group, first, rest


async def test_items_handed_over_during_a_write_go_together_in_the_next() -> None:
    writes, _, first, rest = await during_a_held_write(range(2, 42, 2))
    assert not any(task.done() for task in [first, *rest])
    writes.gate.set()
    assert await asyncio.gather(first, *rest) == [item * 10 for item in range(0, 42, 2)]
    assert writes.batches == [[0], list(range(2, 42, 2))]


async def test_each_caller_gets_its_own_answer_or_error() -> None:
    writes = GatedWrites()
    writes.gate.set()
    group = GroupCommit(writes, max_batch=100, name="test")
    answers = await asyncio.gather(
        *(group.submit(item) for item in range(4)), return_exceptions=True
    )
    assert answers[0] == 0
    assert answers[2] == 20
    assert [str(answers[1]), str(answers[3])] == ["odd 1", "odd 3"]


async def test_a_failed_write_fails_every_item_of_it() -> None:
    async def broken(items: list[int]) -> Sequence[int]:
        raise ConnectionError("database away")

    group = GroupCommit(broken, max_batch=100, name="test")
    results = await asyncio.gather(group.submit(1), group.submit(2), return_exceptions=True)
    assert [type(result) for result in results] == [ConnectionError, ConnectionError]


async def test_batches_are_at_most_max_batch_items() -> None:
    writes = GatedWrites()
    writes.gate.set()
    group = GroupCommit(writes, max_batch=3, name="test")
    await asyncio.gather(*(group.submit(item) for item in range(0, 16, 2)))
    assert writes.batches == [[0, 2, 4], [6, 8, 10], [12, 14]]


async def test_an_item_is_written_when_its_caller_stops_waiting() -> None:
    writes, group, first, [gone] = await during_a_held_write(range(2, 3))
    gone.cancel()  # it handed its item over, then its client went away
    with pytest.raises(asyncio.CancelledError):
        await gone
    writes.gate.set()
    await first
    await group.drain()
    assert writes.batches == [[0], [2]]


async def test_callers_are_not_left_waiting_when_the_writer_is_cancelled() -> None:
    _, group, first, [second] = await during_a_held_write(range(2, 3))
    assert group._writer is not None
    group._writer.cancel()
    async with asyncio.timeout(10):  # without the fix: waiting forever
        results = await asyncio.gather(first, second, return_exceptions=True)
    assert [type(result) for result in results] == [asyncio.CancelledError] * 2
