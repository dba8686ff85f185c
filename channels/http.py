"""What the channels that speak HTTP share: one request helper that turns every failure into
the right :class:`DeliveryError`.

A provider's answer is read only up to :data:`MAX_RESPONSE_BYTES`: Herald needs an id or an
error message from it, and a provider (or whatever answers at its address) that sends
hundreds of megabytes must cost neither memory nor time. The rest is never read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from channels.base import (
    Channel,
    PermanentDeliveryError,
    TransientDeliveryError,
)

TRANSIENT_STATUSES = frozenset({408, 425, 429})
MAX_RESPONSE_BYTES = 64 * 1024
# Headers that describe the body as it came over the wire, not the prefix kept of it.
WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: safe to log, unlike paths that may hold tokens."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def is_transient(status: int) -> bool:
    """Whether an HTTP status is worth retrying."""
    return status >= 500 or status in TRANSIENT_STATUSES


async def bounded_request(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """Send a request and read at most :data:`MAX_RESPONSE_BYTES` of the answer's body; the
    response holds that prefix (see the module docstring)."""
    async with client.stream(method, url, **kwargs) as streamed:
        kept = bytearray()
        async for chunk in streamed.aiter_bytes():
            kept += chunk[: MAX_RESPONSE_BYTES - len(kept)]
            if len(kept) >= MAX_RESPONSE_BYTES:
                break  # closing the stream drops the connection with the rest unread
    headers = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in WIRE_HEADERS]
    return httpx.Response(
        streamed.status_code, headers=headers, content=bytes(kept), request=streamed.request
    )


class HttpChannel(Channel):
    """A channel that delivers with the app's shared ``httpx.AsyncClient``."""

    @property
    def http(self) -> httpx.AsyncClient:
        """The shared client handed over by :meth:`bind`."""
        return self.context.http

    def describe_failure(self, response: httpx.Response) -> tuple[str | int | None, str]:
        """The provider's error code and message from a failed response."""
        text = response.text.strip()[:300]
        return (
            response.status_code,
            f"HTTP {response.status_code} from {origin(str(response.url))}"
            + (f": {text}" if text else ""),
        )

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request; return a 2xx response or raise the matching delivery error."""
        try:
            response = await bounded_request(self.http, method, url, **kwargs)
        except httpx.TimeoutException:
            raise TransientDeliveryError(f"timed out waiting for {origin(url)}") from None
        except httpx.TransportError as error:
            raise TransientDeliveryError(f"cannot reach {origin(url)}: {error}") from None
        if response.is_success:
            return response
        code, message = self.describe_failure(response)
        if is_transient(response.status_code):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise TransientDeliveryError(message, code=code, retry_after=retry_after)
        raise PermanentDeliveryError(message, code=code)
