"""The JSON API blueprint (``/api``); every route needs a bearer token."""

from __future__ import annotations

from quart import Blueprint, g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from app.auth import user_for_token
from app.db import db_session

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
async def require_token() -> None:
    """Accept ``Authorization: Bearer <token>`` for a live token; anything else is a 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user = None
    if scheme.lower() == "bearer" and token.strip():
        user = await user_for_token(db_session(), token.strip())
    if user is None:
        raise Unauthorized(
            "A valid API token is required: send 'Authorization: Bearer <token>'.",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "Herald API"}),
        )
    g.user = user


from app.api import views  # noqa: E402,F401  - registers the routes on bp
