"""Validated API tokens, remembered for ``TOKEN_CACHE_SECONDS`` (2 by default), so that a
request with a token does not wait on the database to learn whose it is.

Only tokens that were valid are kept (a wrong one is looked up every time, and counted), by
their SHA-256 digest, at most :data:`MAX_ENTRIES` of them. Revoking a token or disabling a
user clears this process's cache at once; another Herald process notices within
``TOKEN_CACHE_SECONDS``, when its entry lapses. 0 turns the cache off.

Requests that miss the cache together for one token share one lookup: when an entry lapses
under load, the token is read once, not once per waiting request. A lookup that was under
way when the cache was cleared answers the requests that were already waiting for it, and
is not kept.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from quart import Quart, current_app, has_app_context

from app.models import User

MAX_ENTRIES = 10_000


class TokenCache:
    """Token digest -> its user, each for ``seconds`` from when it was looked up."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, User]] = OrderedDict()
        self._lookups: dict[str, asyncio.Task[User | None]] = {}

    def get(self, digest: str) -> User | None:
        """The user of a token validated less than ``seconds`` ago, else None."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if self.clock() >= entry[0]:
            del self._entries[digest]
            return None
        return entry[1]

    def put(self, digest: str, user: User) -> None:
        """Remember that the token is ``user``'s (nothing when the cache is off)."""
        if self.seconds <= 0:
            return
        self._entries[digest] = (self.clock() + self.seconds, user)
        self._entries.move_to_end(digest)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every token: one was revoked or its user disabled."""
        self._entries.clear()
        self._lookups.clear()  # requests from now on look again, and nothing under way is kept

    async def user(self, digest: str, look_up: Callable[[], Awaitable[User | None]]) -> User | None:
        """The token's user: from the cache, or from ``look_up`` (shared with the requests
        already waiting on a lookup of the same token)."""
        user = self.get(digest)
        if user is not None:
            return user
        lookup = self._lookups.get(digest)
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up(digest, look_up))
            lookup.add_done_callback(_retrieve)
            self._lookups[digest] = lookup
        # shielded: a request that gives up does not cancel the others' lookup
        return await asyncio.shield(lookup)

    async def _look_up(
        self, digest: str, look_up: Callable[[], Awaitable[User | None]]
    ) -> User | None:
        try:
            user = await look_up()
        finally:
            current = self._lookups.get(digest) is asyncio.current_task()
            if current:
                del self._lookups[digest]
        if user is not None and current:  # not cleared meanwhile
            self.put(digest, user)
        return user


def _retrieve(lookup: asyncio.Future[User | None]) -> None:
    """Mark a lookup's failure as seen: its requests hear of it, even if all have gone."""
    if not lookup.cancelled():
        lookup.exception()


def get_token_cache(app: Quart | None = None) -> TokenCache:
    """The app's :class:`TokenCache`."""
    cache: TokenCache = (app or current_app).extensions["herald.token_cache"]
    return cache


def forget_tokens() -> None:
    """Clear this process's cache, when there is an app (the CLI has none serving)."""
    if has_app_context() and "herald.token_cache" in current_app.extensions:
        get_token_cache().clear()


def init_app(app: Quart) -> None:
    """Put a cache on ``app`` for ``TOKEN_CACHE_SECONDS``."""
    app.extensions["herald.token_cache"] = TokenCache(float(app.config["TOKEN_CACHE_SECONDS"]))
