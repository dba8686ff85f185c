"""The providers' transport: a provider that misbehaves on the wire is a transient delivery
error that says what happened, never an aiohttp exception or a 'timed out' that was not one.
Each provider is a real TCP server on a loopback port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from app.channelset import provider_client
from channels.base import ChannelContext, TransientDeliveryError
from tests.channels.test_http import PlainHttpChannel

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def provider(handle: Handler) -> AsyncIterator[str]:
    """A TCP server running ``handle`` per connection; it waits for every connection to end."""
    connections: list[asyncio.Task[None]] = []

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await handle(reader, writer)
        finally:
            writer.close()
            await writer.wait_closed()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    finally:
        server.close()
        await server.wait_closed()
        await asyncio.gather(*connections, return_exceptions=True)


def answering(raw: bytes | None, *, then_wait: bool = False) -> Handler:
    """A provider that reads the request, writes ``raw`` (nothing if None), and hangs up, or
    keeps the connection open if ``then_wait``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if raw is not None:
            writer.write(raw)
            await writer.drain()
        if then_wait:
            await reader.read()  # until the client hangs up

    return handle


@pytest.mark.parametrize(
    ("raw", "then_wait", "expected"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", False, "cannot reach .*: .*[Bb]ad status line"),
        (b"HTTP/1.1 99999 Nope\r\n\r\n", False, "cannot reach .*: .*status"),
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", False, "cannot reach"),
        (None, False, "cannot reach .*: Server disconnected"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", False, "cannot reach"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", True, "timed out waiting for"),
        (None, True, "timed out waiting for"),
    ],
    ids=["garbage", "bad-status", "huge-header", "hang-up", "cut-short", "stalled-body", "silent"],
)
async def test_a_provider_misbehaving_on_the_wire_is_a_clear_transient_error(
    raw: bytes | None, then_wait: bool, expected: str
) -> None:
    async with (
        provider(answering(raw, then_wait=then_wait)) as url,
        provider_client(timeout=0.5) as client,
    ):
        channel = PlainHttpChannel({})
        channel.bind(ChannelContext(http=client))
        with pytest.raises(TransientDeliveryError, match=expected):
            await channel.request("POST", url, content=b"{}")


async def test_a_refused_connection_is_a_connect_error_not_a_timeout() -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with provider_client(timeout=5) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{port}/hook")
