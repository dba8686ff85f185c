"""Live delivery statuses: the dashboard's pages follow their alerts over a websocket.

The page opens ``/live?view=list&alerts=3,2,1`` (or ``view=page`` for one alert's page). The
server sends each alert's part of the page, rendered by the same template as the page, at
once and again whenever it changes: ``{"alert": 3, "status": "sending", "html": "..."}``.
When every watched alert is finished it closes with 1000, which tells the page that nothing
more will come. When the session expires or its user is disabled, it closes with 1008.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from quart import abort, render_template, session, websocket
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import alerts_as_they_are
from app.auth import current_user
from app.db import db_session, get_db
from app.dispatch import get_dispatcher, wait_for
from app.models import User
from app.web import bp

VIEWS = {"list": "web/_deliveries.html", "page": "web/_alert_live.html"}
MAX_ALERTS = 100
# However busy the dispatcher, a connection looks at the database at most this often (s).
MIN_INTERVAL = 0.2
NORMAL_CLOSURE, POLICY_VIOLATION = 1000, 1008


@bp.before_websocket
async def require_login_websocket() -> None:
    """The websocket gate: a handshake from one of this site's pages by a signed-in user."""
    origin = websocket.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != websocket.host:
        abort(403, "Websockets are only open to this site's own pages.")
    user = await current_user()
    # A websocket lives long: give back the database connection the check used.
    await db_session().close()
    if user is None:
        abort(401, "Log in to follow alerts live.")


def watched() -> tuple[str, list[int]]:
    """The view and the alert ids the page asks to follow; 400 when they make no sense."""
    view = websocket.args.get("view", "")
    if view not in VIEWS:
        abort(400, f"view must be one of: {', '.join(VIEWS)}.")
    text = websocket.args.get("alerts", "")
    ids = [int(part) for part in text.split(",") if part.isdigit()]
    if not ids or len(ids) > MAX_ALERTS or len(ids) != len(text.split(",")):
        abort(400, f"alerts must be 1 to {MAX_ALERTS} alert ids separated by commas.")
    return view, ids


async def still_signed_in(db: AsyncSession) -> bool:
    """Whether the session the connection opened with still holds: not expired since, and
    its user not disabled since."""
    expires_at, user_id = session.get("expires_at"), session.get("user_id")
    if not (isinstance(expires_at, int) and expires_at > time.time() and isinstance(user_id, int)):
        return False
    user = await db.get(User, user_id)
    return user is not None and user.disabled_at is None


@bp.websocket("/live")
async def live() -> None:
    """Send each watched alert's deliveries whenever they change, until all are finished."""
    view, ids = watched()
    await websocket.accept()
    dispatcher = get_dispatcher()
    shown: dict[int, str] = {}
    watching = set(ids)
    while True:
        change, looked = dispatcher.next_change(), time.monotonic()
        async with get_db().session() as db:
            allowed = await still_signed_in(db)
            records = await alerts_as_they_are(db, watching, history=view == "page")
        if not allowed:
            await websocket.close(POLICY_VIOLATION, "signed out")
            return
        for record in records:
            html = await render_template(VIEWS[view], alert=record)
            if shown.get(record.id) != html:
                await websocket.send_json(
                    {"alert": record.id, "status": record.status, "html": html}
                )
                shown[record.id] = html
        watching = {record.id for record in records if not record.finished}
        if not watching:
            await websocket.close(NORMAL_CLOSURE, "every alert is finished")
            return
        # This process's changes wake the loop at once; other processes' show when it looks
        # again after the poll interval.
        await wait_for(change, dispatcher.poll_interval)
        await asyncio.sleep(max(0.0, looked + MIN_INTERVAL - time.monotonic()))
