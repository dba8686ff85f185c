"""What the Web Push channel needs from whoever keeps the browsers' subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """A browser's Web Push subscription."""

    endpoint: str
    p256dh: str
    auth: str


class PushSubscriptionStore(Protocol):
    """Where the Web Push channel finds its subscribers."""

    async def subscriptions(self) -> list[PushSubscription]:
        """Every stored subscription."""

    async def remove(self, endpoint: str) -> None:
        """Forget a subscription the push service no longer knows."""
