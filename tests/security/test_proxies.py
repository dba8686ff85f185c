"""Trusted proxies: X-Forwarded-For counts only for the configured number of hops."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart

from tests.conftest import migrated_app

SOCKET_PEER = {"client": ("192.0.2.10", 50000)}


async def logged_client(app: Quart, caplog: pytest.LogCaptureFixture, **headers: str) -> str:
    """The client address Herald's access log records for one request."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="herald.access"):
        await app.test_client().get("/healthz", headers=headers, scope_base=SOCKET_PEER)
    [line] = [r.getMessage() for r in caplog.records if r.name == "herald.access"]
    return line.split()[0]


@pytest.fixture(name="proxied_app")
async def _proxied_app(settings: dict[str, Any]) -> AsyncIterator[Quart]:
    app = await migrated_app({**settings, "TRUSTED_PROXY_HOPS": 1})
    async with app.test_app():
        yield app


async def test_forwarded_for_is_ignored_by_default(
    app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    spoofed = await logged_client(app, caplog, **{"X-Forwarded-For": "203.0.113.66"})
    assert spoofed == "192.0.2.10"


async def test_one_trusted_hop_takes_the_address_the_proxy_saw(
    proxied_app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    seen = await logged_client(proxied_app, caplog, **{"X-Forwarded-For": "203.0.113.5"})
    assert seen == "203.0.113.5"


async def test_a_client_cannot_prepend_its_own_forwarded_for(
    proxied_app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    # The client sent "6.6.6.6"; our proxy appended the address it really saw.
    chain = "6.6.6.6, 203.0.113.5"
    assert await logged_client(proxied_app, caplog, **{"X-Forwarded-For": chain}) == "203.0.113.5"


async def test_without_the_header_the_socket_peer_stands(
    proxied_app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    assert await logged_client(proxied_app, caplog) == "192.0.2.10"
