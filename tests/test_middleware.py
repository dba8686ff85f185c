"""The ASGI request-id and access-log middleware."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from app.middleware import REQUEST_ID_SCOPE_KEY, RequestIdMiddleware


async def test_safe_incoming_request_id_is_kept(client: Client) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "edge-42.a:b_c"})
    assert response.headers["X-Request-ID"] == "edge-42.a:b_c"


@pytest.mark.parametrize(
    "incoming", ["", "has space", "x" * 129, "tab\there", 'quote"d', "<script>"]
)
async def test_unsafe_incoming_request_id_is_replaced(client: Client, incoming: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": incoming})
    request_id = response.headers["X-Request-ID"]
    assert request_id != incoming
    assert len(request_id) == 32
    assert int(request_id, 16) >= 0


async def test_each_request_gets_its_own_id(client: Client) -> None:
    first = (await client.get("/healthz")).headers["X-Request-ID"]
    second = (await client.get("/healthz")).headers["X-Request-ID"]
    assert first != second


async def test_one_access_log_line_per_request(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="herald.access"):
        await client.get("/healthz?probe=1", headers={"X-Request-ID": "acc-1"})
    lines = [r.getMessage() for r in caplog.records if r.name == "herald.access"]
    assert len(lines) == 1
    peer, method, path, status, duration, request_id = lines[0].split()
    assert (peer, method, path, status, request_id) == ("-", "GET", "/healthz", "200", "acc-1")
    assert duration.endswith("ms")


@pytest.mark.parametrize("scope_type", ["lifespan", "websocket"])
async def test_non_http_scopes_pass_through_untouched(scope_type: str) -> None:
    seen: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    async def receive() -> Any:
        raise AssertionError("not called")

    async def send(message: Any) -> None:
        raise AssertionError("not called")

    scope = {"type": scope_type, "headers": [(b"x-request-id", b"keep-me")]}
    await RequestIdMiddleware(inner)(scope, receive, send)  # type: ignore[arg-type]
    assert seen == [scope]
    assert REQUEST_ID_SCOPE_KEY not in seen[0]


async def test_status_500_is_logged_when_the_app_raises(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("no response started")

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        return None

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    with caplog.at_level(logging.INFO, logger="herald.access"), pytest.raises(RuntimeError):
        await RequestIdMiddleware(broken)(scope, receive, send)  # type: ignore[arg-type]
    assert caplog.records[-1].getMessage().split()[:4] == ["-", "GET", "/x", "500"]


def test_invalid_header_option_is_refused() -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        return None

    with pytest.raises(ValueError, match="invalid header name"):
        RequestIdMiddleware(inner, header="X Request Id")
