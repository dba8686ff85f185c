"""Rate limits: login attempts per address and per username, API calls per token.

Herald sits behind a :class:`tests.proxy.FakeProxy` here (``TRUSTED_PROXY_HOPS=1``), so a
test speaks from an address by setting ``proxy.client``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from redis import asyncio as aioredis

from app import create_app
from app.auth import create_token
from app.db import get_db
from app.models import User
from app.ratelimit import BoundedMemoryStore
from config import ConfigError
from tests.conftest import PASSWORD, add_user, csrf_from, migrated_app
from tests.proxy import FakeProxy, behind_fake_proxy

ADDRESS_A = "198.51.100.7"
ADDRESS_B = "198.51.100.8"


@pytest.fixture(name="settings")
def _settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {**settings, "TRUSTED_PROXY_HOPS": 1}


@pytest.fixture(name="proxy")
def _proxy(app: Quart) -> FakeProxy:
    return behind_fake_proxy(app)


async def attempt(client: Client, username: str, password: str) -> Any:
    token = await csrf_from(client)
    form = {"username": username, "password": password, "csrf_token": token}
    return await client.post("/login", form=form)


async def test_the_sixth_login_attempt_a_minute_from_one_address_is_429(
    client: Client, user: User, proxy: FakeProxy
) -> None:
    proxy.client = ADDRESS_A
    for n in range(5):
        response = await attempt(client, f"guess{n}", "wrong")
        assert response.status_code == 401
    refused = await attempt(client, "alice", PASSWORD)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-Request-ID"]  # the app-wide hooks ran for the refusal too
    assert "429 · Too Many Requests" in await refused.get_data(as_text=True)
    proxy.client = ADDRESS_B
    other_address = await attempt(client, "alice", PASSWORD)
    assert other_address.status_code == 302  # a different address is not held back


async def test_one_username_is_limited_across_addresses(
    client: Client, user: User, proxy: FakeProxy
) -> None:
    for n in range(5):
        proxy.client = f"203.0.113.{n}"
        assert (await attempt(client, "alice", "wrong")).status_code == 401
    proxy.client = "203.0.113.99"
    refused = await attempt(client, "Alice", PASSWORD)
    assert refused.status_code == 429


async def test_a_spoofed_forwarded_for_does_not_reset_the_limit(
    client: Client, user: User, proxy: FakeProxy
) -> None:
    proxy.client = ADDRESS_A
    for n in range(6):
        token = await csrf_from(client)
        response = await client.post(
            "/login",
            form={"username": f"u{n}", "password": "wrong", "csrf_token": token},
            headers={"X-Forwarded-For": f"10.0.0.{n}"},  # made up: before the proxy's entry
        )
    assert response.status_code == 429


async def test_viewing_the_login_page_is_not_an_attempt(client: Client, proxy: FakeProxy) -> None:
    for _ in range(10):
        assert (await client.get("/login")).status_code == 200


@pytest.fixture(name="limited_app")
async def _limited_app(settings: dict[str, Any]) -> AsyncIterator[Quart]:
    app = await migrated_app({**settings, "API_RATE_LIMIT": "3/minute"})
    async with app.test_app():
        yield app


async def test_api_calls_are_limited_per_token_with_json_429(limited_app: Quart) -> None:
    client = limited_app.test_client()
    owner = await add_user(limited_app, "ops")
    async with get_db(limited_app).session() as session:
        first = {"Authorization": f"Bearer {await create_token(session, owner)}"}
        second = {"Authorization": f"Bearer {await create_token(session, owner)}"}
    for _ in range(3):
        assert (await client.get("/api/channels", headers=first)).status_code == 200
    refused = await client.get("/api/channels", headers=first)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    body = await refused.get_json()
    assert (body["error"], body["status_code"]) == ("Too Many Requests", 429)
    assert (await client.get("/api/channels", headers=second)).status_code == 200


@pytest.mark.parametrize("value", ["5", "5/fortnight", "0/minute", "many"])
def test_malformed_limits_stop_start_up(settings: dict[str, Any], value: str) -> None:
    from app import create_app

    with pytest.raises(ConfigError, match="LOGIN_RATE_LIMIT: write a limit like"):
        create_app({**settings, "LOGIN_RATE_LIMIT": value}, env="testing")


async def test_instances_sharing_redis_share_the_login_limit(
    settings: dict[str, Any], redis_url: str
) -> None:
    first = await migrated_app({**settings, "REDIS_URL": redis_url})
    second = create_app({**settings, "REDIS_URL": redis_url}, env="testing")
    for instance in (first, second):
        behind_fake_proxy(instance).client = ADDRESS_A
    async with first.test_app(), second.test_app():
        clients = [first.test_client(), second.test_client()]
        for n in range(5):  # attempts alternate between the two instances
            response = await attempt(clients[n % 2], f"guess{n}", "wrong")
            assert response.status_code == 401
        refused = await attempt(clients[1], "someone", "wrong")
        assert refused.status_code == 429


def wrong_token(n: int) -> dict[str, str]:
    return {"Authorization": f"Bearer hrld_wrong-guess-number-{n:06d}"}


async def test_wrong_tokens_from_one_address_are_refused_with_429_after_the_limit(
    app: Quart, client: Client, bearer: dict[str, str], proxy: FakeProxy
) -> None:
    proxy.client = ADDRESS_A
    for n in range(20):  # AUTH_FAILURE_LIMIT: 20/minute
        response = await client.get("/api/alerts", headers=wrong_token(n))
        assert response.status_code == 401
    refused = await client.get("/api/alerts", headers=wrong_token(20))
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert (await refused.get_json())["status_code"] == 429
    # A right guess from that address gets no further: the address is refused, not the token.
    right = await client.get("/api/alerts", headers=bearer)
    assert right.status_code == 429
    proxy.client = ADDRESS_B
    assert (await client.get("/api/alerts", headers=bearer)).status_code == 200


async def test_wrong_metrics_tokens_count_as_failures(settings: dict[str, Any]) -> None:
    app = await migrated_app({**settings, "METRICS_TOKEN": "metrics-token-right"})
    proxy = behind_fake_proxy(app)
    async with app.test_app():
        client = app.test_client()
        proxy.client = ADDRESS_A
        for n in range(20):
            response = await client.get("/metrics", headers=wrong_token(n))
            assert response.status_code == 403
        right = {"Authorization": "Bearer metrics-token-right"}
        assert (await client.get("/metrics", headers=right)).status_code == 429
        proxy.client = ADDRESS_B
        assert (await client.get("/metrics", headers=right)).status_code == 200


async def test_limiter_memory_does_not_grow_with_wrong_tokens(
    settings: dict[str, Any],
) -> None:
    app = await migrated_app({**settings, "AUTH_FAILURE_LIMIT": "100000/minute"})
    async with app.test_app():
        client = app.test_client()
        store = app.extensions["herald.auth_failures"].store
        for n in range(300):
            response = await client.get("/api/alerts", headers=wrong_token(n))
            assert response.status_code == 401
        assert len(store) <= 3  # the address's keys, not one per token


async def test_the_memory_store_keeps_at_most_its_bound() -> None:
    store = BoundedMemoryStore(max_keys=100)
    later = datetime.now(UTC) + timedelta(minutes=1)
    for n in range(10_000):
        await store.set(f"key-{n}", later)
    assert len(store) <= 100
    assert await store.get("key-9999", datetime.min) == later  # the newest are kept
    live = [n for n in range(10_000) if await store.get(f"key-{n}", datetime.min) == later]
    lapsed = datetime.now(UTC) - timedelta(seconds=1)
    for n in range(100):
        await store.set(f"old-{n}", lapsed)
    for n in live:  # limits that still hold were kept; the lapsed ones made room
        assert await store.get(f"key-{n}", datetime.min) == later


async def test_redis_keys_expire_when_their_limit_lapses(
    settings: dict[str, Any], redis_url: str
) -> None:
    app = await migrated_app({**settings, "REDIS_URL": redis_url})
    async with app.test_app():
        await attempt(app.test_client(), "someone-else", "wrong")
    redis = aioredis.from_url(redis_url)
    try:
        keys = await redis.keys("*")
        assert keys
        for key in keys:  # a login limit of 5/minute lapses within a minute (and a second)
            assert 0 < await redis.pttl(key) <= 61_000
    finally:
        await redis.aclose()
