"""Rate limits (quart-rate-limiter), keyed on the real client address, never a raw header.

- Login attempts: ``LOGIN_RATE_LIMIT`` per client address and, separately, per username.
- API: ``API_RATE_LIMIT`` per token (per client address without one), per route.

Limits are written ``"5/minute"`` (``second``, ``minute``, ``hour``, ``day``). The store is
in memory by default, or Redis with ``REDIS_URL`` so that several instances share counts.
A refused request gets 429 with ``Retry-After`` (JSON under ``/api``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

from quart import Quart, current_app, request
from quart_rate_limiter import RateLimit, RateLimiter
from quart_rate_limiter.redis_store import RedisStore
from quart_rate_limiter.store import MemoryStore, RateLimiterStoreABC

from app.auth import hash_token

LIMIT = re.compile(r"\s*(\d+)\s*/\s*(second|minute|hour|day)\s*")
PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_limit(value: object, key: str) -> tuple[int, timedelta]:
    """``"5/minute"`` as (5, one minute); ValueError naming ``key`` otherwise."""
    match = LIMIT.fullmatch(str(value))
    if match is None or int(match.group(1)) < 1:
        raise ValueError(f"{key}: write a limit like '5/minute' (second, minute, hour, day)")
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
    """The username a login attempt is for."""
    username: str = (await request.form).get("username", "")
    return "user:" + username.strip().lower()


async def api_client() -> str:
    """The bearer token's digest, or the client address for requests without one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + hash_token(token.strip())
    return await client_address()


async def not_a_login_attempt() -> bool:
    """Only POSTs to the login form count."""
    return request.method != "POST"


LOGIN_LIMITS: list[RateLimit] = [
    ConfiguredLimit("LOGIN_RATE_LIMIT", client_address, not_a_login_attempt),
    ConfiguredLimit("LOGIN_RATE_LIMIT", login_username, not_a_login_attempt),
]
API_LIMITS: list[RateLimit] = [ConfiguredLimit("API_RATE_LIMIT", api_client)]


class SharedStore(RedisStore):
    """quart-rate-limiter's Redis store, closed with redis-py 5's ``aclose()``."""

    async def after_serving(self) -> None:
        """Close the connection pool."""
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


def init_app(app: Quart) -> None:
    """Check the limits and start a rate limiter with the configured store."""
    for setting in ("LOGIN_RATE_LIMIT", "API_RATE_LIMIT"):
        parse_limit(app.config[setting], setting)
    redis_url = app.config.get("REDIS_URL")
    store: RateLimiterStoreABC = SharedStore(redis_url) if redis_url else MemoryStore()
    RateLimiter(app, key_function=client_address, store=store)
