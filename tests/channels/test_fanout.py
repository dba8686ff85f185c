"""One alert to several recipients: concurrency, the summed-up outcome, and resuming."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime

import httpx
import pytest

from channels.base import (
    Alert,
    Channel,
    ChannelContext,
    PermanentDeliveryError,
    RecipientLog,
    TransientDeliveryError,
)
from channels.fanout import FanOut, MemoryRecipientLog, recipient_key

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ALERT = Alert(1, "t", "m", "info", NOW, "uid-1")


class Several(Channel):
    name = "several"

    async def send(self, alert: Alert) -> None:
        raise NotImplementedError  # the tests call FanOut directly


@pytest.fixture(name="http")
async def _http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def fan_out(http: httpx.AsyncClient, log: RecipientLog | None = None, **options: int) -> FanOut:
    channel = Several({})
    channel.bind(ChannelContext(http=http, recipients=log))
    return FanOut(channel, **options)


async def test_fan_out_sums_up_partial_failure(http: httpx.AsyncClient) -> None:
    async def send_one(recipient: str) -> str | None:
        if recipient == "bad":
            raise PermanentDeliveryError("invalid", code=21211)
        return f"id-{recipient}"

    receipt = await fan_out(http).send(ALERT, ["a", "bad", "b"], send_one)
    assert receipt.reference == "id-a, id-b"
    assert receipt.detail == "failed for 1 of 3: bad: [21211] invalid"


async def test_fan_out_all_failed_is_permanent(http: httpx.AsyncClient) -> None:
    async def send_one(recipient: str) -> str | None:
        raise PermanentDeliveryError("invalid")

    with pytest.raises(PermanentDeliveryError, match="a: invalid; b: invalid"):
        await fan_out(http).send(ALERT, ["a", "b"], send_one)


async def test_fan_out_retry_skips_recipients_already_served(http: httpx.AsyncClient) -> None:
    calls: list[str] = []

    async def send_one(recipient: str) -> str | None:
        calls.append(recipient)
        if calls == ["a", "b"]:  # b's first try fails
            raise TransientDeliveryError("busy", retry_after=3)
        return None

    sender = fan_out(http)
    with pytest.raises(TransientDeliveryError) as caught:
        await sender.send(ALERT, ["a", "b"], send_one)
    assert caught.value.retry_after == 3
    await sender.send(ALERT, ["a", "b"], send_one)
    assert calls == ["a", "b", "b"]


async def test_a_retry_whose_only_failure_is_permanent_still_counts_the_served(
    http: httpx.AsyncClient,
) -> None:
    log = MemoryRecipientLog()
    await log.add(ALERT, "several", [recipient_key("a")])

    async def send_one(recipient: str) -> str | None:
        raise PermanentDeliveryError("invalid")

    receipt = await fan_out(http, log).send(ALERT, ["a", "b"], send_one)
    assert receipt.detail == "failed for 1 of 2: b: invalid"


async def test_progress_is_recorded_by_digest_when_a_retry_will_want_it(
    http: httpx.AsyncClient,
) -> None:
    log = MemoryRecipientLog()

    async def send_one(recipient: str) -> str | None:
        if recipient == "b":
            raise TransientDeliveryError("busy")
        return None

    url = "https://hooks.example/T000/secret-token"
    with pytest.raises(TransientDeliveryError):
        await fan_out(http, log).send(ALERT, [url, "b"], send_one)
    assert await log.served(ALERT, "several") == {recipient_key(url)}
    assert "secret" not in str(await log.served(ALERT, "several"))


class CountingLog(MemoryRecipientLog):
    """Counts the keys of every write and every read."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []
        self.reads = 0

    async def served(self, alert: Alert, channel: str) -> set[str]:
        self.reads += 1
        return await super().served(alert, channel)

    async def add(self, alert: Alert, channel: str, keys: Collection[str]) -> None:
        self.writes.append(len(keys))
        await super().add(alert, channel, keys)


async def test_progress_is_written_a_batch_at_a_time_and_the_rest_on_failure(
    http: httpx.AsyncClient,
) -> None:
    log = CountingLog()

    async def send_one(recipient: str) -> str | None:
        if recipient == "24":
            raise TransientDeliveryError("busy")
        return None

    with pytest.raises(TransientDeliveryError):
        await fan_out(http, log, batch=10).send(ALERT, [str(n) for n in range(25)], send_one)
    assert sorted(log.writes) == [4, 10, 10]


async def test_a_send_that_reached_everyone_writes_only_full_batches(
    http: httpx.AsyncClient,
) -> None:
    log = CountingLog()

    async def send_one(recipient: str) -> str | None:
        return None

    await fan_out(http, log, batch=10).send(ALERT, [str(n) for n in range(25)], send_one)
    assert log.writes == [10, 10]  # the last 5 need no record: the delivery is sent


async def test_a_single_recipient_keeps_no_progress(http: httpx.AsyncClient) -> None:
    log = CountingLog()

    async def send_one(recipient: str) -> str | None:
        raise TransientDeliveryError("busy")

    with pytest.raises(TransientDeliveryError):
        await fan_out(http, log).send(ALERT, ["only"], send_one)
    assert (log.reads, log.writes) == (0, [])


async def test_a_log_that_cannot_write_does_not_fail_a_served_send(
    http: httpx.AsyncClient,
) -> None:
    class BrokenLog(MemoryRecipientLog):
        async def add(self, alert: Alert, channel: str, keys: Collection[str]) -> None:
            raise OSError("disk full")

    async def send_one(recipient: str) -> str | None:
        if recipient == "b":
            raise PermanentDeliveryError("invalid")
        return "ok"

    receipt = await fan_out(http, BrokenLog()).send(ALERT, ["a", "b"], send_one)
    assert receipt.reference == "ok"


async def test_memory_log_remembers_only_recent_alerts() -> None:
    log = MemoryRecipientLog(remember=2)
    for alert_id in range(5):
        await log.add(Alert(alert_id, "", "m", "info", NOW, f"u{alert_id}"), "c", ["k"])
    assert [
        alert_id
        for alert_id in range(5)
        if await log.served(Alert(alert_id, "", "m", "info", NOW, f"u{alert_id}"), "c")
    ] == [3, 4]


async def test_fan_out_bounds_concurrent_sends(http: httpx.AsyncClient) -> None:
    active = peak = 0

    async def send_one(recipient: str) -> str | None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0)  # let the others start if they may
        active -= 1
        return None

    await fan_out(http, concurrency=4).send(ALERT, [str(n) for n in range(40)], send_one)
    assert peak == 4
