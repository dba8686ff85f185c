"""Live delivery statuses: the dashboard's pages follow their alerts over a websocket.

The page opens ``/live?view=list&alerts=3,2,1`` (or ``view=page`` for one alert's page). The
server sends each alert's part of the page, rendered by the same template as the page, at
once and again whenever it changes: ``{"alert": 3, "status": "sending", "html": "..."}``
(the work is done once per process for all pages: ``app/live.py``). When every followed
alert is finished it closes with 1000, which tells the page that nothing more will come;
when the session expires or ends (logout, a new password) or its user is disabled, it
closes with 1008.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import abort, session, websocket

from app.auth import current_user
from app.db import db_session
from app.ids import parse_id
from app.live import VIEWS, Follower, get_hub
from app.web import bp

MAX_ALERTS = 100
NORMAL_CLOSURE, POLICY_VIOLATION = 1000, 1008


@bp.before_websocket
async def require_login_websocket() -> None:
    """The websocket gate: a handshake from one of this site's pages by a signed-in user."""
    origin = websocket.headers.get("Origin")
    if origin is not None and not is_own_origin(origin):
        abort(403, "Websockets are only open to this site's own pages.")
    user = await current_user()
    # A websocket lives long: give back the database connection the check used.
    await db_session().close()
    if user is None:
        abort(401, "Log in to follow alerts live.")


DEFAULT_PORTS = {"http": "80", "https": "443"}


def is_own_origin(origin: str) -> bool:
    """Whether ``origin`` is this site: same scheme (``ws`` is ``http``'s, ``wss`` is
    ``https``'s), host and port, default ports written or not."""
    scheme = "https" if websocket.scheme in ("wss", "https") else "http"

    def normalised(host: str) -> str:
        return host.lower().removesuffix(f":{DEFAULT_PORTS[scheme]}")

    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme == scheme and normalised(parts.netloc) == normalised(websocket.host)


def watched() -> tuple[str, set[int]]:
    """The view and the alert ids the page asks to follow; 400 when they make no sense."""
    view = websocket.args.get("view", "")
    if view not in VIEWS:
        abort(400, f"view must be one of: {', '.join(VIEWS)}.")
    ids = [parse_id(part) for part in websocket.args.get("alerts", "").split(",")]
    if not 0 < len(ids) <= MAX_ALERTS or None in ids:
        abort(400, f"alerts must be 1 to {MAX_ALERTS} alert ids separated by commas.")
    return view, {alert_id for alert_id in ids if alert_id is not None}


@bp.websocket("/live")
async def live() -> None:
    """Forward the hub's updates for the page's alerts until all are finished."""
    view, ids = watched()
    follower = Follower(view, session["user_id"], session["expires_at"], ids, session["generation"])
    await websocket.accept()
    hub = get_hub()
    try:  # follow and leave stay paired whatever happens in between
        await hub.follow(follower)
        while not follower.done:
            update = await follower.outbox.get()
            if update is None:
                await websocket.close(POLICY_VIOLATION, "signed out")
                return
            await websocket.send_json(update)
        await websocket.close(NORMAL_CLOSURE, "every alert is finished")
    finally:
        hub.leave(follower)
