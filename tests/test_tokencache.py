"""Validated API tokens are remembered for TOKEN_CACHE_SECONDS: revoking or disabling takes
effect at once where it was done, and within that bound in every other process."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from quart import Quart
from sqlalchemy import select

from app import create_app
from app.auth import create_token, disable_user, revoke_token
from app.db import get_db
from app.models import ApiToken, User
from app.tokencache import MAX_ENTRIES, TokenCache, get_token_cache
from tests.conftest import add_user, migrated_app

pytestmark = pytest.mark.storage


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lasts_its_seconds_and_no_longer() -> None:
    clock = Clock()
    cache = TokenCache(2.0, clock)
    user = User(id=1, username="alice")
    cache.put("digest", user)
    clock.now += 1.9
    assert cache.get("digest") is user
    clock.now += 0.1
    assert cache.get("digest") is None


def test_off_at_zero_and_bounded() -> None:
    off = TokenCache(0.0)
    off.put("digest", User(id=1, username="alice"))
    assert off.get("digest") is None
    cache = TokenCache(60.0)
    for n in range(MAX_ENTRIES + 10):
        cache.put(f"d{n}", User(id=n, username="u"))
    assert cache.get("d0") is None
    assert cache.get(f"d{MAX_ENTRIES + 9}") is not None


class SlowLookup:
    """A token lookup that counts its calls and answers when the test lets it."""

    def __init__(self, answer: User | Exception | None) -> None:
        self.answer = answer
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> User | None:
        self.calls += 1
        await self.release.wait()
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def waiting(lookup: SlowLookup, *requests: asyncio.Future[Any]) -> None:
    """Let the requests reach the lookup, and the lookup its wait."""
    for _ in range(100):
        if lookup.calls:
            assert not any(request.done() for request in requests)
            return
        await asyncio.sleep(0)  # a turn of the loop for the tasks, not a wait for time
    raise AssertionError("the lookup never started")


async def test_requests_that_miss_together_share_one_lookup() -> None:
    cache, user = TokenCache(2.0), User(id=1, username="alice")
    lookup = SlowLookup(user)
    requests = [asyncio.ensure_future(cache.user("digest", lookup)) for _ in range(10)]
    await waiting(lookup, *requests)
    requests[0].cancel()  # one client gives up: the others still get their answer
    lookup.release.set()
    answers = await asyncio.gather(*requests[1:])
    assert answers == [user] * 9
    assert lookup.calls == 1
    assert await cache.user("digest", SlowLookup(None)) is user  # and it is kept


async def test_a_lookup_under_way_when_the_cache_is_cleared_is_not_kept() -> None:
    cache, user = TokenCache(2.0), User(id=1, username="alice")
    lookup = SlowLookup(user)
    request = asyncio.ensure_future(cache.user("digest", lookup))
    await waiting(lookup, request)
    cache.clear()  # a token was revoked meanwhile
    lookup.release.set()
    assert await request is user  # it was asked before the revocation
    again = SlowLookup(None)
    again.release.set()
    assert await cache.user("digest", again) is None
    assert again.calls == 1


async def test_a_failed_lookup_fails_its_requests_and_is_not_kept() -> None:
    cache = TokenCache(2.0)
    lookup = SlowLookup(ConnectionError("database down"))
    requests = [asyncio.ensure_future(cache.user("digest", lookup)) for _ in range(3)]
    await waiting(lookup, *requests)
    lookup.release.set()
    answers = await asyncio.gather(*requests, return_exceptions=True)
    assert all(isinstance(answer, ConnectionError) for answer in answers)
    again = SlowLookup(User(id=1, username="alice"))
    again.release.set()
    assert await cache.user("digest", again) is again.answer
    assert again.calls == 1


async def two_instances(settings: dict[str, Any]) -> tuple[Quart, Quart, Clock]:
    first = await migrated_app(settings)
    second = create_app(settings, env="testing")
    clock = Clock()
    get_token_cache(second).clock = clock
    return first, second, clock


@pytest.mark.parametrize("stop", ["revoke", "disable"])
async def test_a_stopped_token_fails_at_once_here_and_within_the_bound_elsewhere(
    settings: dict[str, Any], stop: str
) -> None:
    first, second, clock = await two_instances(settings)
    async with first.test_app(), second.test_app():
        user = await add_user(first, "alice")
        async with get_db(first).session() as session:
            bearer = {"Authorization": f"Bearer {await create_token(session, user)}"}
        here, elsewhere = first.test_client(), second.test_client()
        for client in (here, elsewhere):  # both remember the token now
            assert (await client.get("/api/channels", headers=bearer)).status_code == 200
        async with first.app_context(), get_db(first).session() as session:
            if stop == "revoke":
                token_id = (await session.scalars(select(ApiToken.id))).one()
                await revoke_token(session, token_id)
            else:
                found = await session.get(User, user.id)
                assert found is not None
                await disable_user(session, found)
        assert (await here.get("/api/channels", headers=bearer)).status_code == 401
        clock.now += 1.9  # the other process may still honour it, within TOKEN_CACHE_SECONDS
        assert (await elsewhere.get("/api/channels", headers=bearer)).status_code == 200
        clock.now += 0.1
        assert (await elsewhere.get("/api/channels", headers=bearer)).status_code == 401
