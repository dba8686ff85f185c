"""Trusted proxies: X-Forwarded-For counts only for the configured number of hops.

The apps sit behind a :class:`tests.proxy.FakeProxy` that forwards 203.0.113.5; an
``X-Forwarded-For`` the tests send is one a client made up.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart

from tests.conftest import migrated_app
from tests.proxy import PROXY_ADDRESS, behind_fake_proxy

SEEN_BY_PROXY = "203.0.113.5"


async def logged_client(app: Quart, caplog: pytest.LogCaptureFixture, **headers: str) -> str:
    """The client address Herald's access log records for one request."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="herald.access"):
        await app.test_client().get("/healthz", headers=headers)
    [line] = [r.getMessage() for r in caplog.records if r.name == "herald.access"]
    return line.split()[0]


async def proxied(settings: dict[str, Any], hops: int) -> AsyncIterator[Quart]:
    app = await migrated_app({**settings, "TRUSTED_PROXY_HOPS": hops})
    behind_fake_proxy(app).client = SEEN_BY_PROXY
    async with app.test_app():
        yield app


@pytest.fixture(name="untrusting_app")
async def _untrusting_app(settings: dict[str, Any]) -> AsyncIterator[Quart]:
    async for app in proxied(settings, hops=0):
        yield app


@pytest.fixture(name="proxied_app")
async def _proxied_app(settings: dict[str, Any]) -> AsyncIterator[Quart]:
    async for app in proxied(settings, hops=1):
        yield app


async def test_forwarded_for_is_ignored_by_default(
    untrusting_app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    seen = await logged_client(untrusting_app, caplog, **{"X-Forwarded-For": "203.0.113.66"})
    assert seen == PROXY_ADDRESS[0]  # the socket peer: the proxy itself


async def test_one_trusted_hop_takes_the_address_the_proxy_saw(
    proxied_app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    assert await logged_client(proxied_app, caplog) == SEEN_BY_PROXY


async def test_a_client_cannot_prepend_its_own_forwarded_for(
    proxied_app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    # The client sent "6.6.6.6"; the proxy appended the address it really saw.
    forged = await logged_client(proxied_app, caplog, **{"X-Forwarded-For": "6.6.6.6"})
    assert forged == SEEN_BY_PROXY
