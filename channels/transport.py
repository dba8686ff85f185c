"""The transport under the channels' shared ``httpx.AsyncClient``: aiohttp's connection pool.

httpx's own pool (httpcore 1.0) checks every pooled connection, with a system call each, on
every request: with a hundred deliveries in flight to one provider that was most of a
delivery's CPU (docs/benchmarks.md). ``httpx-aiohttp`` puts aiohttp's pool under the same
httpx API, so the channels, their tests' ``httpx.MockTransport`` and the bounded reads of
``channels/http.py`` stay as they are. What this module adds is the failure mapping: that
package turns a refused connection into a timeout and lets a malformed answer through as an
aiohttp exception, while the channels expect httpx's tree::

    refused, no route, DNS       -> httpx.ConnectError
    connect / read timeout       -> httpx.ConnectTimeout / httpx.ReadTimeout
    malformed or oversized answer,
    connection closed mid-answer -> httpx.RemoteProtocolError
    body cut short               -> httpx.ReadError
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

# Most specific first: aiohttp's timeouts are also connection errors.
_MAPPING: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientError, httpx.ReadError),
)


def as_httpx_error(error: BaseException) -> BaseException:
    """The httpx error for an aiohttp one (also when already mapped, loosely, to httpx)."""
    original = error
    if isinstance(error, httpx.TransportError) and isinstance(error.__cause__, aiohttp.ClientError):
        original = error.__cause__
    for aiohttp_error, httpx_error in _MAPPING:
        if isinstance(original, aiohttp_error):
            return httpx_error(str(original) or type(original).__name__)
    return error


@contextmanager
def httpx_errors() -> Iterator[None]:
    """Raise aiohttp's failures as httpx's."""
    try:
        yield
    except (aiohttp.ClientError, httpx.TransportError) as error:
        mapped = as_httpx_error(error)
        if mapped is error:
            raise
        raise mapped from error


class _MappedStream(httpx.AsyncByteStream):
    """A response body whose read failures are httpx's."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with httpx_errors():
            async for chunk in self._inner:
                yield chunk

    async def aclose(self) -> None:
        with httpx_errors():
            await self._inner.aclose()


class ProviderTransport(AiohttpTransport):
    """aiohttp's pool under httpx, failing with httpx's exceptions."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with httpx_errors():
            response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _MappedStream(response.stream)
        return response
