"""Channels for tests: real Channel subclasses loaded by dotted path like any user's own."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from channels.base import (
    Alert,
    Channel,
    DeliveryError,
    PermanentDeliveryError,
    Receipt,
    TransientDeliveryError,
)

SLOW_SECONDS = 0.5  # a provider's round trip


class InFlight:
    """How many slow sends are under way at once, across every slow channel."""

    now = 0
    most = 0


class RecordingChannel(Channel):
    """Delivers instantly and keeps every alert it was given."""

    name = "recording"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.received: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        self.received.append(alert)


class SlowChannel(RecordingChannel):
    """Takes half a second per alert, like a provider across a network."""

    name = "slow1"

    async def send(self, alert: Alert) -> None:
        InFlight.now += 1
        InFlight.most = max(InFlight.most, InFlight.now)
        try:
            await asyncio.sleep(SLOW_SECONDS)
        finally:
            InFlight.now -= 1
        await super().send(alert)


class SecondSlowChannel(SlowChannel):
    name = "slow2"


class ThirdSlowChannel(SlowChannel):
    name = "slow3"


class FailingChannel(Channel):
    """Always refuses, as a provider rejecting the request would."""

    name = "failing"

    async def send(self, alert: Alert) -> None:
        raise DeliveryError("provider said no (code 21211)")


class HangingChannel(Channel):
    """Never answers: only the dispatcher's timeout ends it."""

    name = "hanging"

    async def send(self, alert: Alert) -> None:
        await asyncio.Event().wait()


class NeedsSettingChannel(Channel):
    """Requires SAMPLE_API_KEY, to show start-up refusing a missing setting."""

    name = "needs-setting"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.api_key = self.setting("SAMPLE_API_KEY")

    async def send(self, alert: Alert) -> None:
        return None


class NotAChannel:
    """Has a send method but is not a Channel subclass."""

    name = "impostor"

    async def send(self, alert: Alert) -> None:
        return None


def path(cls: type[object]) -> str:
    """The dotted path a CHANNELS entry uses for ``cls``."""
    return f"{cls.__module__}.{cls.__qualname__}"


class RendezvousChannel(Channel):
    """Finishes only once every rendezvous channel has started: proof of concurrency.

    The test puts an ``asyncio.Barrier`` in the ``RENDEZVOUS`` setting; sent one after the
    other, the first channel would wait forever and time out.
    """

    name = "rendezvous1"

    async def send(self, alert: Alert) -> None:
        barrier: asyncio.Barrier = self.config["RENDEZVOUS"]
        await barrier.wait()


class SecondRendezvousChannel(RendezvousChannel):
    name = "rendezvous2"


class ThirdRendezvousChannel(RendezvousChannel):
    name = "rendezvous3"


class FlakyChannel(Channel):
    """Fails transiently ``FLAKY_FAILURES`` times per alert, then delivers."""

    name = "flaky"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.failures = int(config.get("FLAKY_FAILURES", 1))
        self.retry_after: float | None = config.get("FLAKY_RETRY_AFTER", 0)
        self.calls: dict[int, int] = {}

    async def send(self, alert: Alert) -> Receipt:
        self.calls[alert.id] = self.calls.get(alert.id, 0) + 1
        if self.calls[alert.id] <= self.failures:
            raise TransientDeliveryError("provider busy", code=503, retry_after=self.retry_after)
        return Receipt(reference=f"ref-{alert.id}")


class RejectingChannel(Channel):
    """Refuses every alert for good, as a 4xx from a provider would."""

    name = "rejecting"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.calls = 0

    async def send(self, alert: Alert) -> None:
        self.calls += 1
        raise PermanentDeliveryError("invalid recipient", code=21211)


class ProbeChannel(Channel):
    """Takes a moment per alert and remembers how many sends overlapped at most."""

    name = "probe"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.active = self.peak = 0

    async def send(self, alert: Alert) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(0.05)
        finally:
            self.active -= 1


class GatedChannel(Channel):
    """Delivers once the test opens the gate: the ``GATE`` setting, an ``asyncio.Event``."""

    name = "gated"

    async def send(self, alert: Alert) -> None:
        gate: asyncio.Event = self.config["GATE"]
        await gate.wait()


class SecondGatedChannel(GatedChannel):
    name = "gated2"
