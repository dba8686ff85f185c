"""The JSON API blueprint (``/api``); every route needs a bearer token."""

from __future__ import annotations

from quart import Blueprint, g, request
from quart_rate_limiter import limit_blueprint
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from app import csrf
from app.auth import bearer_token, bearer_user, current_user
from app.ratelimit import API_LIMITS, failed_authentications

bp = Blueprint("api", __name__, url_prefix="/api")
limit_blueprint(bp, limits=API_LIMITS)


# Routes the dashboard's own script calls with the session cookie (and the CSRF header).
SESSION_ENDPOINTS = frozenset(
    {"api.vapid_public_key", "api.add_push_subscription", "api.delete_push_subscription"}
)


@bp.before_request
async def require_token() -> None:
    """Accept ``Authorization: Bearer <token>`` for a live token; anything else is a 401,
    and after AUTH_FAILURE_LIMIT of those from one address, a 429 for everything it sends.

    A few routes also accept a signed-in dashboard session, with the CSRF token in the
    ``X-CSRF-Token`` header for writes.
    """
    if bearer_token() is None and request.endpoint in SESSION_ENDPOINTS:
        session_user = await current_user()
        if session_user is not None:
            await csrf.protect()
            g.user = session_user
            return
    failures = failed_authentications()
    await failures.refuse_if_exceeded()  # before looking: a right guess must not get through
    user = await bearer_user()
    if user is None:
        await failures.record()
        raise Unauthorized(
            "A valid API token is required: send 'Authorization: Bearer <token>'.",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "Herald API"}),
        )
    g.user = user


from app.api import push, views  # noqa: E402,F401  - registers the routes on bp
