"""The live hub: one per process, it follows the alerts that open dashboard pages show.

Whenever this process changes a delivery, and at least every poll interval for changes made
by other processes, the hub reads the followed alerts once, renders each one's part of the
page once, and queues it for every connection that follows that alert and has not seen that
version yet. The work per look grows with the number of alerts followed, not with the number
of open pages. The websocket view (``app/web/live.py``) only forwards what is queued.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from quart import Quart, current_app
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import alerts_as_they_are
from app.db import get_db
from app.dispatch import get_dispatcher, wait_for
from app.models import AlertRecord, User

logger = logging.getLogger("herald.live")
VIEWS = {"list": "web/_deliveries.html", "page": "web/_alert_live.html"}
# However busy the dispatcher, the hub looks at the database at most this often (s).
MIN_INTERVAL = 0.2
Message = dict[str, Any]


@dataclass(eq=False)
class Follower:
    """One open page: which view it shows, whose session it is (and of which generation),
    which alerts it still expects to change, and the updates waiting to be sent to it
    (None: the session ended)."""

    view: str
    user_id: int
    expires_at: float
    unfinished: set[int]
    generation: int = 0  # the user's session generation when the page signed in
    outbox: asyncio.Queue[Message | None] = field(default_factory=asyncio.Queue)

    @property
    def done(self) -> bool:
        """Every alert it follows is finished and every update was taken from the outbox."""
        return not self.unfinished and self.outbox.empty()


class LiveHub:
    """Reads, renders and queues the followed alerts' updates; see the module docstring."""

    def __init__(self, app: Quart) -> None:
        self.app = app
        self.followers: set[Follower] = set()
        # (view, alert id): the version every follower of it has been sent, and whether the
        # alert is finished in it
        self._shown: dict[tuple[str, int], tuple[Message, bool]] = {}
        self._lock = asyncio.Lock()  # one look at a time, so that updates queue in order

    async def follow(self, follower: Follower) -> None:
        """Queue the follower's alerts as the other pages have them, then every change."""
        view = follower.view
        async with self._lock:
            self.followers.add(follower)
            # Read afresh what no other page follows yet, and what was last seen finished:
            # a finished alert comes back to life when it repeats or is resolved.
            missing = {
                alert
                for alert in follower.unfinished
                if (view, alert) not in self._shown or self._shown[view, alert][1]
            }
            if missing:
                for record in await self._read(view, missing):
                    await self._render(view, record)
            for alert in sorted(follower.unfinished):
                if (view, alert) in self._shown:
                    self._send(follower, view, alert)
                else:  # there is no such alert: it will not change either
                    follower.unfinished.discard(alert)

    def leave(self, follower: Follower) -> None:
        """Stop queueing for a page that closed."""
        self.followers.discard(follower)

    async def run(self) -> None:
        """Look after every change this process makes, and every poll interval."""
        dispatcher = get_dispatcher(self.app)
        while True:
            change, looked = dispatcher.next_change(), time.monotonic()
            if self.followers:
                try:
                    async with self._lock:
                        await self._look()
                except Exception:  # the database may be briefly away: the pages just wait
                    logger.exception("live updates: reading the followed alerts failed")
            await wait_for(change, dispatcher.poll_interval)
            await asyncio.sleep(max(0.0, looked + MIN_INTERVAL - time.monotonic()))

    async def _look(self) -> None:
        followers = set(self.followers)
        wanted: dict[str, set[int]] = {}
        for follower in followers:
            wanted.setdefault(follower.view, set()).update(follower.unfinished)
        async with get_db(self.app).session() as db:
            signed_in = await self._signed_in(db, followers)
        found: dict[str, list[AlertRecord]] = {}
        for view, ids in wanted.items():
            try:  # one view that cannot be read must not stop the others
                found[view] = await self._read(view, ids)
            except Exception:
                logger.exception("live updates: reading the %s view failed", view)
        for follower in followers - signed_in:
            follower.outbox.put_nowait(None)
            self.followers.discard(follower)
        # forget the versions no page waits on any more
        self._shown = {
            key: shown for key, shown in self._shown.items() if key[1] in wanted.get(key[0], ())
        }
        for view, records in found.items():
            for record in records:
                if await self._render(view, record):
                    for follower in signed_in:
                        self._send(follower, view, record.id)
        for follower in signed_in:  # alerts deleted since will not change either
            if follower.view in found:
                follower.unfinished &= {record.id for record in found[follower.view]}

    async def _read(self, view: str, ids: set[int]) -> list[AlertRecord]:
        """The alerts as ``view`` shows them, read in a session of their own: the views load
        different relations of the same rows, which one session's identity map would mix."""
        async with get_db(self.app).session() as db:
            return await alerts_as_they_are(db, ids, history=view == "page")

    async def _render(self, view: str, record: AlertRecord) -> bool:
        """Render the alert's part of the page; tell whether it differs from the last one."""
        html = await self.app.jinja_env.get_template(VIEWS[view]).render_async(alert=record)
        shown = self._shown.get((view, record.id))
        if shown is not None and shown[0]["html"] == html:
            return False
        update = {"alert": record.id, "status": record.status, "html": html}
        self._shown[view, record.id] = (update, record.finished)
        return True

    def _send(self, follower: Follower, view: str, alert: int) -> None:
        """Queue the alert's last version for the follower, if it follows it in this view."""
        if follower.view == view and alert in follower.unfinished:
            update, finished = self._shown[view, alert]
            follower.outbox.put_nowait(update)
            if finished:
                follower.unfinished.discard(alert)

    @staticmethod
    async def _signed_in(db: AsyncSession, followers: set[Follower]) -> set[Follower]:
        """The followers whose session has not expired or ended and whose user is enabled."""
        now = time.time()
        current = {f for f in followers if f.expires_at > now}
        users = {f.user_id for f in current}
        rows = await db.execute(
            select(User.id, User.session_generation).where(
                User.id.in_(users), User.disabled_at.is_(None)
            )
        )
        generations: dict[int, int] = {row.id: row.session_generation for row in rows}
        return {f for f in current if generations.get(f.user_id, -1) == f.generation}


def get_hub() -> LiveHub:
    """The current app's :class:`LiveHub`."""
    hub: LiveHub = current_app.extensions["herald.live"]
    return hub


def init_app(app: Quart) -> None:
    """Attach a hub that follows alerts for as long as the app serves."""
    hub = app.extensions["herald.live"] = LiveHub(app)

    @app.while_serving
    async def run_hub() -> AsyncGenerator[None, None]:
        task = asyncio.create_task(hub.run(), name="herald-live")
        yield
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
