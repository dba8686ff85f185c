"""The channel contract: the Alert value, the Channel base class and the exception tree.

Exceptions::

    ChannelError                 anything a channel raises on purpose
    ├── ChannelConfigError       a setting is missing or wrong; raised at start-up
    └── DeliveryError            one alert could not be delivered
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

Severity = Literal["info", "warning", "critical"]


class ChannelError(Exception):
    """Base of every error a channel raises on purpose."""


class ChannelConfigError(ChannelError):
    """A channel's setting is missing or invalid; the message names the key."""


class DeliveryError(ChannelError):
    """An alert could not be delivered through a channel."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as the channels see it: immutable, whatever the storage looks like."""

    id: int
    title: str
    message: str
    severity: Severity
    created_at: datetime

    @property
    def subject(self) -> str:
        """A one-line summary: ``[SEVERITY] title`` (or the message's start without a title)."""
        headline = self.title or (self.message.splitlines() or [""])[0][:80]
        return f"[{self.severity.upper()}] {headline}"


class Channel(abc.ABC):
    """A way to reach people. Subclasses set ``name`` and implement :meth:`send`.

    ``__init__`` receives the app's whole config mapping and must raise
    :class:`ChannelConfigError` naming the key when a setting it needs is missing or wrong,
    so that a bad configuration stops Herald at start-up rather than at the first alert.
    """

    name: ClassVar[str]

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def setting(self, key: str) -> Any:
        """Return the setting ``key``, raising :class:`ChannelConfigError` when it is unset."""
        value = self.config.get(key)
        if value is None or value == "":
            raise ChannelConfigError(f"{key}: required by the {self.name!r} channel")
        return value

    @abc.abstractmethod
    async def send(self, alert: Alert) -> None:
        """Deliver ``alert``; raise :class:`DeliveryError` when it cannot be delivered."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"
