"""The configured channels as one object on the app: the instances by name, the routes from
severities to channels, and the HTTP client they share for as long as the app serves.

Views, the API, the CLI and the dispatcher find it with :func:`get_channels`; which channels
one alert goes to is the alerts' concern (:func:`app.alerts.channels_for`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import httpx
from quart import Quart, current_app

import config as settings
from app.db import Database
from app.deliveries import DatabaseRecipientLog
from channels.base import Channel, ChannelContext
from channels.transport import ProviderTransport

USER_AGENT = "Herald/0.1 (+alert gateway)"
KEEPALIVE_EXPIRY = 2.0  # seconds a connection to a provider may sit idle and still be used


def provider_client(timeout: float) -> httpx.AsyncClient:
    """The HTTP client every channel shares, for the life of the process."""
    return httpx.AsyncClient(
        timeout=timeout,
        # answers are read only in part (channels/http.py): no compression to undo
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        follow_redirects=False,
        # A POST on a kept-alive connection that the provider closes as idle at that very
        # moment fails after the provider may have taken it, and its retry is a repeat.
        # Servers close idle connections after 5 s or more (hypercorn, Node): never reuse
        # one that has been idle longer than this.
        transport=ProviderTransport(limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY)),
    )


class ChannelSet(Mapping[str, Channel]):
    """The configured channels by name, their routes, and their shared resources."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        routes: Mapping[str, list[str]] | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        check_routes(routes, channels)
        self._channels = dict(channels)
        self.routes: Mapping[str, list[str]] = routes or {}
        self.timeout = timeout
        self._http: httpx.AsyncClient | None = None

    def __getitem__(self, name: str) -> Channel:
        return self._channels[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._channels)

    def __len__(self) -> int:
        return len(self._channels)

    def class_path(self, name: str) -> str:
        """``module.Class`` of the channel called ``name``."""
        cls = type(self._channels[name])
        return f"{cls.__module__}.{cls.__qualname__}"

    async def open(self, database: Database) -> None:
        """Open the shared HTTP client and hand it, with the fan-out progress kept in
        ``database``, to the channels."""
        if self._http is not None:
            return
        self._http = provider_client(self.timeout)
        context = ChannelContext(http=self._http, recipients=DatabaseRecipientLog(database))
        for channel in self._channels.values():
            channel.bind(context)

    async def close(self) -> None:
        """Close the shared HTTP client."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def check_routes(routes: Mapping[str, list[str]] | None, channels: Mapping[str, Channel]) -> None:
    """Every channel a route names must be configured."""
    for severity, names in (routes or {}).items():
        unknown = [name for name in names if name not in channels]
        if unknown:
            known = ", ".join(channels)
            raise settings.ConfigError(
                f"ROUTES: {severity!r} names unknown channel(s) {', '.join(unknown)}; "
                f"configured: {known}"
            )


def get_channels(app: Quart | None = None) -> ChannelSet:
    """The app's :class:`ChannelSet`."""
    channels: ChannelSet = (app or current_app).extensions["herald.channels"]
    return channels


def init_app(app: Quart, channels: Mapping[str, Channel]) -> ChannelSet:
    """Put the configured channels and their routes on ``app``."""
    channel_set = ChannelSet(
        channels, app.config["ROUTES"], timeout=float(app.config["CHANNEL_TIMEOUT"])
    )
    app.extensions["herald.channels"] = channel_set
    return channel_set
