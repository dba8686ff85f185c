"""Rate limits (quart-rate-limiter), keyed on the real client address, never a raw header.

- Login attempts: ``LOGIN_RATE_LIMIT`` per client address and, separately, per username.
- API: ``API_RATE_LIMIT`` per valid token (per client address without one), per route.
- Failed authentications (a wrong API or metrics token): ``AUTH_FAILURE_LIMIT`` per client
  address; past it every request from that address is refused until Retry-After, so tokens
  cannot be guessed at speed.

Memory stays bounded whatever clients send: keys are addresses, usernames that passed the
address limit and tokens that are valid; the memory store drops keys whose limit has lapsed
and, past ``MAX_KEYS``, the least recently used; Redis keys expire when their limit lapses.

Limits are written ``"5/minute"`` (``second``, ``minute``, ``hour``, ``day``). The store is
in memory by default, or Redis with ``REDIS_URL`` so that several instances share counts.
A refused request gets 429 with ``Retry-After`` (JSON under ``/api``).
"""

from __future__ import annotations

import functools
import math
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from quart import Quart, current_app, g, request
from quart_rate_limiter import RateLimit, RateLimiter, RateLimitExceeded
from quart_rate_limiter.redis_store import RedisStore
from quart_rate_limiter.store import MemoryStore, RateLimiterStoreABC

from app.auth import bearer_token, bearer_user, hash_token
from config import ConfigError

LIMIT = re.compile(r"\s*(\d+)\s*/\s*(second|minute|hour|day)\s*")
PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
MAX_KEYS = 100_000  # limits kept in memory at most (~20 MB)
LIMIT_SETTINGS = ("LOGIN_RATE_LIMIT", "API_RATE_LIMIT", "AUTH_FAILURE_LIMIT")


def parse_limit(value: object, key: str) -> tuple[int, timedelta]:
    """``"5/minute"`` as (5, one minute); :class:`config.ConfigError` naming ``key`` else."""
    return _parse_limit(str(value), key)


@functools.lru_cache(maxsize=64)  # asked several times per request, of a few settings
def _parse_limit(value: str, key: str) -> tuple[int, timedelta]:
    match = LIMIT.fullmatch(value)
    if match is None or int(match.group(1)) < 1:
        raise ConfigError(f"{key}: write a limit like '5/minute' (second, minute, hour, day)")
    return int(match.group(1)), timedelta(seconds=PERIODS[match.group(2)])


class ConfiguredLimit(RateLimit):
    """A limit whose count and period come from a setting of the app serving the request."""

    def __init__(
        self,
        setting: str,
        key_function: Callable[[], Awaitable[str]],
        skip_function: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.setting = setting
        self.key_function = key_function
        self.skip_function = skip_function

    @property
    def count(self) -> int:  # type: ignore[override]
        """Requests allowed per period, from the setting."""
        return parse_limit(current_app.config[self.setting], self.setting)[0]

    @property
    def period(self) -> timedelta:  # type: ignore[override]
        """The period, from the setting."""
        return parse_limit(current_app.config[self.setting], self.setting)[1]


async def client_address() -> str:
    """The client's address as the server (or a trusted proxy, see TRUSTED_PROXY_HOPS) saw it."""
    return request.remote_addr or "unknown"


async def login_username() -> str:
    """The username a login attempt is for, as a digest: a key of bounded size, whatever
    length of name is sent."""
    username: str = (await request.form).get("username", "")
    return "user:" + hash_token(username.strip().lower())


async def api_client() -> str:
    """A valid bearer token's digest, else the client address: a wrong token is no key of
    its own, or each guess would cost a key. Worked out once per request (the limiter asks
    before and after the view)."""
    if "rate_limit_client" not in g:
        token = bearer_token()
        if token is not None and await bearer_user() is not None:
            g.rate_limit_client = "token:" + hash_token(token)
        else:
            g.rate_limit_client = await client_address()
    client: str = g.rate_limit_client
    return client


async def not_a_login_attempt() -> bool:
    """Only POSTs to the login form count."""
    return request.method != "POST"


LOGIN_LIMITS: list[RateLimit] = [
    ConfiguredLimit("LOGIN_RATE_LIMIT", client_address, not_a_login_attempt),
    ConfiguredLimit("LOGIN_RATE_LIMIT", login_username, not_a_login_attempt),
]
API_LIMITS: list[RateLimit] = [ConfiguredLimit("API_RATE_LIMIT", api_client)]


class BoundedMemoryStore(MemoryStore):
    """quart-rate-limiter's memory store, bounded: see the module docstring."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        super().__init__()
        self._tats: OrderedDict[str, datetime] = OrderedDict()
        self.max_keys = max_keys

    async def set(self, key: str, tat: datetime) -> None:
        """Keep ``tat`` for ``key``; make room when the store is full."""
        self._tats[key] = tat
        self._tats.move_to_end(key)
        if len(self._tats) > self.max_keys:
            self._make_room()

    def _make_room(self) -> None:
        # A theoretical arrival time in the past limits nothing: GCRA treats it as absent.
        now = datetime.now(UTC)
        for key in [key for key, tat in self._tats.items() if tat <= now]:
            del self._tats[key]
        if len(self._tats) > self.max_keys:  # all still limit someone: the oldest go
            while len(self._tats) > self.max_keys * 0.9:  # room for a while, not one key
                self._tats.popitem(last=False)

    def __len__(self) -> int:
        return len(self._tats)


class SharedStore(RedisStore):
    """quart-rate-limiter's Redis store, whose keys expire when their limit lapses, closed
    with redis-py 5's ``aclose()``."""

    async def set(self, key: str, tat: datetime) -> None:
        """Keep ``tat`` for ``key`` until it has passed."""
        assert self._redis is not None
        expires_ms = math.ceil(tat.timestamp() * 1000) + 1000
        await self._redis.set(key, tat.timestamp(), pxat=expires_ms)

    async def after_serving(self) -> None:
        """Close the connection pool."""
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


class FailedAuthentications:
    """Counts failed authentications per client address (``AUTH_FAILURE_LIMIT``) in the
    rate limiter's store, with the same algorithm (GCRA) as the other limits."""

    def __init__(self, store: RateLimiterStoreABC) -> None:
        self.store = store

    @staticmethod
    async def _key() -> str:
        return f"herald-auth-failures-{await client_address()}"

    async def _limit_and_tat(self) -> tuple[int, timedelta, datetime, datetime]:
        count, period = parse_limit(current_app.config["AUTH_FAILURE_LIMIT"], "AUTH_FAILURE_LIMIT")
        now = datetime.now(UTC)
        stored = await self.store.get(await self._key(), now)
        if stored.tzinfo is None:  # the Redis store answers in local time
            stored = stored.astimezone(UTC)
        return count, period, now, max(stored, now)

    async def refuse_if_exceeded(self) -> None:
        """429 with Retry-After when this address has failed too often lately."""
        count, period, now, tat = await self._limit_and_tat()
        allowance = period.total_seconds() * (1 - 1 / count)
        if (tat - now).total_seconds() > allowance:
            retry_after = (tat - timedelta(seconds=allowance) - now).total_seconds()
            raise RateLimitExceeded(max(1, math.ceil(retry_after)))

    async def record(self) -> None:
        """Count one more failure from this address."""
        count, period, _, tat = await self._limit_and_tat()
        await self.store.set(await self._key(), tat + period / count)


def failed_authentications() -> FailedAuthentications:
    """The current app's :class:`FailedAuthentications`."""
    failures: FailedAuthentications = current_app.extensions["herald.auth_failures"]
    return failures


def init_app(app: Quart) -> None:
    """Check the limits and start a rate limiter with the configured store."""
    for setting in LIMIT_SETTINGS:
        parse_limit(app.config[setting], setting)
    redis_url = app.config.get("REDIS_URL")
    store: RateLimiterStoreABC = SharedStore(redis_url) if redis_url else BoundedMemoryStore()
    RateLimiter(app, key_function=client_address, store=store)
    app.extensions["herald.auth_failures"] = FailedAuthentications(store)
