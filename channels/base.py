"""The channel contract: the Alert value, the Channel base class and the exception tree.

Exceptions::

    ChannelError                      anything a channel raises on purpose
    ├── ChannelConfigError            a setting is missing or wrong; raised at start-up
    │                                 (also a config.ConfigError, like every bad setting)
    └── DeliveryError                 one alert could not be delivered (not retried)
        ├── TransientDeliveryError    may work later: timeouts, connection errors, 5xx, 429
        └── PermanentDeliveryError    will not work as sent: other 4xx, invalid recipient
"""

from __future__ import annotations

import abc
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from config import ConfigError

if TYPE_CHECKING:
    import httpx

Severity = Literal["info", "warning", "critical"]
AlertState = Literal["firing", "resolved"]  # what a notification tells
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
# Anything that ends a line somewhere: C0 and C1 controls (which include U+0085), DEL, and
# Unicode's line and paragraph separators. The title schema refuses exactly these.
LINE_BREAKING = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029"
_LINE_BREAKS = re.compile(f"[{LINE_BREAKING}]+")
# "=?" opens an RFC 2047 encoded word, which mail clients, Python's email package and ntfy
# decode: text that holds one could decode into a line break (a header injection).
_ENCODED_WORD_START = re.compile(r"=(?=\?)")


def one_line(text: str) -> str:
    """``text`` as one line that is safe in any header: every line-breaking character
    becomes a space and no encoded word can start (``=?`` becomes ``= ?``)."""
    return _ENCODED_WORD_START.sub("= ", _LINE_BREAKS.sub(" ", text)).strip()


class ChannelError(Exception):
    """Base of every error a channel raises on purpose."""


class ChannelConfigError(ChannelError, ConfigError):
    """A channel's setting is missing or invalid; the message names the key."""


class DeliveryError(ChannelError):
    """An alert could not be delivered; ``code`` is the provider's error code, if any."""

    def __init__(self, message: str, *, code: str | int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}" if self.code is not None else self.message


class TransientDeliveryError(DeliveryError):
    """Worth retrying; ``retry_after`` is the provider's requested wait in seconds."""

    def __init__(
        self, message: str, *, code: str | int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Retrying the same request cannot succeed."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One notification of an alert, as the channels see it: immutable, whatever the storage.

    ``uid`` is stable for the alert's whole life, across retries and restarts. An alert may
    be notified more than once: first as it fires (``notification == "firing"``), again
    while it keeps firing unacknowledged (``"repeat-1"``, ...), and once resolved
    (``state == "resolved"``). :attr:`notification_id` names one notification for all of its
    attempts; channels use it for ids that let receivers drop repeats (email ``Message-ID``,
    ``webhook-id``). ``url`` is the alert's page and ``ack_url`` acknowledges it without a
    sign-in (firing notifications only; empty when not known).
    """

    id: int
    title: str
    message: str
    severity: Severity
    created_at: datetime
    uid: str = ""
    state: AlertState = "firing"
    notification: str = "firing"
    labels: Mapping[str, str] = field(default_factory=dict)
    dedup_key: str = ""
    url: str = ""
    ack_url: str = ""

    @property
    def resolved(self) -> bool:
        """Whether this notification says the alert is resolved."""
        return self.state == "resolved"

    @property
    def notification_id(self) -> str:
        """The same for every attempt at one notification; the uid for the first."""
        base = self.uid or str(self.id)
        return base if self.notification == "firing" else f"{base}.{self.notification}"

    @property
    def subject(self) -> str:
        """A one-line summary, ``[SEVERITY] title`` (``[RESOLVED] title`` once resolved; the
        message's start without a title), made safe for headers by :func:`one_line`:
        channels put it in a header as it is."""
        headline = self.title or (self.message.splitlines() or [""])[0][:80]
        tag = "RESOLVED" if self.resolved else self.severity.upper()
        return one_line(f"[{tag}] {headline}")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a successful send leaves behind for the delivery log."""

    reference: str | None = None  # the provider's id for the message (e.g. an SMS sid)
    detail: str | None = None  # anything worth keeping, such as recipients that were refused


class RecipientLog(Protocol):
    """Which recipients of one alert a channel has already served (see channels/fanout.py)."""

    async def served(self, alert: Alert, channel: str) -> set[str]:
        """The recipient keys recorded as served with ``alert`` on ``channel``."""

    async def add(self, alert: Alert, channel: str, keys: Collection[str]) -> None:
        """Record ``keys`` as served with ``alert`` on ``channel``."""


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """Long-lived resources every channel may use, handed over when Herald starts serving."""

    http: httpx.AsyncClient
    recipients: RecipientLog | None = None  # fan-out progress that every process sees


class Channel(abc.ABC):
    """A way to reach people. Subclasses set ``name`` and implement :meth:`send`.

    ``__init__`` receives the app's whole config mapping and must raise
    :class:`ChannelConfigError` naming the key when a setting it needs is missing or wrong,
    so that a bad configuration stops Herald at start-up rather than at the first alert.
    Shared resources (the HTTP client) arrive later through :meth:`bind`.
    """

    name: ClassVar[str]

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self._context: ChannelContext | None = None

    def setting(self, key: str, default: Any = None) -> Any:
        """The setting ``key``; raise :class:`ChannelConfigError` when unset and no default."""
        value = self.config.get(key)
        if value is None or value == "" or value == []:
            if default is not None:
                return default
            raise ChannelConfigError(f"{key}: required by the {self.name!r} channel")
        return value

    def bind(self, context: ChannelContext) -> None:
        """Receive the shared resources; called once before the first send."""
        self._context = context

    @property
    def context(self) -> ChannelContext:
        """The resources from :meth:`bind`."""
        if self._context is None:
            raise RuntimeError(f"channel {self.name!r} used before bind()")
        return self._context

    @abc.abstractmethod
    async def send(self, alert: Alert) -> Receipt | None:
        """Deliver ``alert``; raise a :class:`DeliveryError` subclass when it cannot."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"
