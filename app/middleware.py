"""Pure ASGI middleware wrapped around ``app.asgi_app``."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, HTTPScope, Scope

ASGIApp = Callable[[Any, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]

REQUEST_ID_SCOPE_KEY = "herald.request_id"
# An incoming id is kept only when it cannot smuggle anything into a log line or header.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")

access_logger = logging.getLogger("herald.access")


class RequestIdMiddleware:
    """Gives every HTTP request an id and writes one access-log line when it is answered.

    A safe incoming ``X-Request-ID`` is kept (so ids follow a request across services);
    otherwise a new one is made. The id is left in the scope under ``herald.request_id``.
    Lifespan and websocket scopes pass straight through.
    """

    def __init__(self, app: ASGIApp, *, header: str = "x-request-id") -> None:
        if not HEADER_NAME.fullmatch(header):
            raise ValueError(f"invalid header name: {header!r}")
        self.app = app
        self.header = header.lower().encode("latin-1")

    def request_id(self, scope: HTTPScope) -> str:
        """The safe incoming request id, or a new one."""
        for name, value in scope["headers"]:
            if name == self.header:
                candidate = value.decode("latin-1")
                if SAFE_REQUEST_ID.fullmatch(candidate):
                    return candidate
        return uuid.uuid4().hex

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self.request_id(scope)
        http_scope: dict[str, Any] = {**scope, REQUEST_ID_SCOPE_KEY: request_id}
        status = 500  # what the client gets if the app raises before answering
        started = time.perf_counter()

        async def send_and_note_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(http_scope, receive, send_and_note_status)
        finally:
            client = (http_scope.get("client") or ("-",))[0]
            access_logger.info(
                "%s %s %s %s %.1fms %s",
                client,
                http_scope["method"],
                http_scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
                request_id,
            )
