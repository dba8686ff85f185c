"""The HTTP helpers every provider channel shares."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from quart import Quart, request

from app.channelset import KEEPALIVE_EXPIRY, provider_client
from channels.base import (
    Alert,
    ChannelContext,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from channels.http import MAX_RESPONSE_BYTES, HttpChannel, origin, parse_retry_after
from tests.servers import hypercorn_server

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ALERT = Alert(1, "t", "m", "info", NOW, "uid-1")


class PlainHttpChannel(HttpChannel):
    name = "plain"

    async def send(self, alert: Alert) -> None:
        await self.request("POST", "https://provider.example/secret-path/send")


def bound(handler: httpx.MockTransport) -> PlainHttpChannel:
    channel = PlainHttpChannel({})
    channel.bind(ChannelContext(http=httpx.AsyncClient(transport=handler)))
    return channel


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        ("Sat, 21 Nov 2026 12:01:30 GMT", 90.0),
        ("Sat, 21 Nov 2026 11:00:00 GMT", 0.0),
        ("soon", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_origin_drops_paths_and_credentials() -> None:
    assert (
        origin("https://user:pw@hooks.example:8443/T0/B0/SECRET?x=1")
        == "https://hooks.example:8443"
    )


@pytest.mark.parametrize(
    ("status", "kind", "retry_after"),
    [
        (429, TransientDeliveryError, 7.0),
        (500, TransientDeliveryError, None),
        (503, TransientDeliveryError, None),
        (408, TransientDeliveryError, None),
        (400, PermanentDeliveryError, None),
        (401, PermanentDeliveryError, None),
        (404, PermanentDeliveryError, None),
        (410, PermanentDeliveryError, None),
    ],
)
async def test_statuses_map_to_transient_or_permanent(
    status: int, kind: type[DeliveryError], retry_after: float | None
) -> None:
    headers = {"Retry-After": "7"} if status == 429 else {}
    channel = bound(httpx.MockTransport(lambda _: httpx.Response(status, headers=headers)))
    with pytest.raises(kind) as caught:
        await channel.send(ALERT)
    assert type(caught.value) is kind
    assert caught.value.code == status
    assert "secret-path" not in str(caught.value)
    if isinstance(caught.value, TransientDeliveryError):
        assert caught.value.retry_after == retry_after


async def test_connection_errors_are_transient_and_name_only_the_host() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(TransientDeliveryError, match=r"cannot reach https://provider\.example:"):
        await bound(httpx.MockTransport(refuse)).send(ALERT)


class EndlessProvider:
    """A provider on a loopback port whose answer goes on and on (256 MB, or a minute): it
    counts what it managed to send before Herald hung up."""

    def __init__(self, status: int) -> None:
        self.sent = 0
        self.app = Quart("endless")
        self.app.add_url_rule("/<path:path>", "answer", self._answer, methods=["POST"])
        self.status = status

    async def _answer(self, path: str) -> Any:
        async def body() -> AsyncIterator[bytes]:
            chunk = b"x" * 65536
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.sent < 256 * 1024 * 1024:
                self.sent += len(chunk)
                yield chunk
                await asyncio.sleep(0)  # the test's own client shares this event loop

        return body(), self.status


@pytest.mark.parametrize("status", [200, 500])
async def test_an_endless_answer_is_read_only_in_part(status: int) -> None:
    provider = EndlessProvider(status)
    async with hypercorn_server(provider.app) as url, httpx.AsyncClient(timeout=5) as client:
        channel = PlainHttpChannel({})
        channel.bind(ChannelContext(http=client))
        if status == 200:
            response = await channel.request("POST", f"{url}/hook")
            assert len(response.content) == MAX_RESPONSE_BYTES
        else:
            with pytest.raises(TransientDeliveryError) as failed:
                await channel.request("POST", f"{url}/hook")
            assert str(failed.value).startswith(f"[500] HTTP 500 from {url}: xxx")
            assert len(str(failed.value)) < 400
    assert provider.sent < 32 * 1024 * 1024  # what the socket buffers took, not all of it


async def test_the_shared_client_does_not_reuse_a_connection_idle_near_the_servers_limit() -> None:
    # Servers close idle connections after a few seconds; a request sent on one just as it
    # closes may have been taken when it fails, and its retry would be a repeat.
    peers: list[Any] = []
    provider = Quart("peers")

    @provider.post("/hook")
    async def hook() -> Any:
        peers.append(request.scope["client"])
        return "", 204

    async with hypercorn_server(provider) as url, provider_client(timeout=5) as client:
        await client.post(f"{url}/hook")
        await client.post(f"{url}/hook")  # at once: the same connection
        # Not a wait for something to happen: the connection sitting idle is what is tested.
        await asyncio.sleep(KEEPALIVE_EXPIRY + 0.3)
        await client.post(f"{url}/hook")
    assert peers[0] == peers[1]
    assert peers[2] != peers[1]  # a fresh connection, not the one the server may be closing
    assert KEEPALIVE_EXPIRY < 5  # below hypercorn's and Node's idle timeout
