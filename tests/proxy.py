"""A testing aid: pure ASGI middleware that makes Herald believe it sits behind a proxy.

Like a real reverse proxy, it appends the address it "saw" (:attr:`FakeProxy.client`) to
``X-Forwarded-For`` and becomes the socket peer itself. With ``TRUSTED_PROXY_HOPS=1``
Herald then takes ``client`` as the caller's address, so a test speaks from any address by
setting one attribute, and whatever ``X-Forwarded-For`` the test sends plays the part of a
header a client made up.
"""

from __future__ import annotations

from typing import Any

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable
from quart import Quart

from app.middleware import ASGIApp

PROXY_ADDRESS = ("192.0.2.1", 50000)  # the proxy's own address (TEST-NET-1)


class FakeProxy:
    """Stands in front of ``app`` as a proxy would; ``client`` is the address it forwards."""

    def __init__(self, app: ASGIApp, client: str = "192.0.2.10") -> None:
        self.app = app
        self.client = client

    async def __call__(
        self, scope: dict[str, Any], receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] in ("http", "websocket"):
            forwarded = (b"x-forwarded-for", self.client.encode("ascii"))
            scope = {**scope, "headers": [*scope["headers"], forwarded], "client": PROXY_ADDRESS}
        await self.app(scope, receive, send)


def behind_fake_proxy(app: Quart) -> FakeProxy:
    """Put a :class:`FakeProxy` in front of ``app`` (as the outermost middleware)."""
    proxy = FakeProxy(app.asgi_app)
    app.asgi_app = proxy  # type: ignore[method-assign,assignment]
    return proxy
