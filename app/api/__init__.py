"""The JSON API blueprint (``/api``); every route needs a bearer token.

:func:`json_api_blueprint` makes a blueprint behave as the API does (the gate, the rate
limits, JSON errors, JSON bodies), for features that bring API routes of their own.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from quart import Blueprint, abort, current_app, g, request
from quart_rate_limiter import limit_blueprint
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from app import csrf, errors
from app.auth import bearer_token, bearer_user, current_user
from app.models import User
from app.ratelimit import API_LIMITS, failed_authentications

TOKEN_REQUIRED = "A valid API token is required: send 'Authorization: Bearer <token>'."  # noqa: S105 - a message


async def authenticate(*, allow_session: bool = False) -> None:
    """Set ``g.user`` from ``Authorization: Bearer <token>`` for a live token; anything else is
    a 401, and after AUTH_FAILURE_LIMIT of those from one address, a 429 for everything it
    sends. With ``allow_session`` (routes the dashboard's own script calls), a signed-in
    session also does, with the CSRF token in the ``X-CSRF-Token`` header for writes."""
    if allow_session and bearer_token() is None:
        session_user = await current_user()
        if session_user is not None:
            await csrf.protect()
            g.user = session_user
            return
    g.user = await token_user(bearer_user)


async def token_user(
    lookup: Callable[[], Awaitable[User | None]], problem: str = TOKEN_REQUIRED
) -> User:
    """The user ``lookup`` finds for the request's token; a 401 saying ``problem`` when there
    is none, counted against the client address (a 429 past AUTH_FAILURE_LIMIT, asked before
    looking, so that a right guess gets nowhere either)."""
    failures = failed_authentications()
    await failures.refuse_if_exceeded()
    user = await lookup()
    if user is None:
        await failures.record()
        raise Unauthorized(
            problem, www_authenticate=WWWAuthenticate("bearer", {"realm": "Herald API"})
        )
    return user


async def require_json_body() -> None:
    """Writes carry JSON (actions such as acknowledge may come with no body at all): 415 for
    another media type, 400 (saying where) when it is not UTF-8 JSON that Python can hold (no
    5,000-digit numbers, no nesting 2,000 deep), before the schema judges the fields."""
    if request.method not in ("POST", "PUT", "PATCH") or await takes_no_body():
        return
    if not request.is_json:
        abort(415, "Send the body as JSON with 'Content-Type: application/json'.")
    body = await request.get_data(as_text=False)
    assert isinstance(body, bytes)
    try:
        json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        abort(400, "The body is not valid JSON: JSON is sent as UTF-8.")
    except json.JSONDecodeError as error:
        abort(400, f"The body is not valid JSON: {error}")
    except (ValueError, RecursionError):  # digits beyond Python's limit; nesting too deep
        abort(
            400,
            "The body is not valid JSON that Herald accepts: a number is too long or "
            "the nesting too deep.",
        )


async def takes_no_body() -> bool:
    """An action with no request model (acknowledge, resolve) sent with an empty body."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None) is not None:
        return False
    return not await request.get_data(as_text=False)


def json_api_blueprint(
    name: str, import_name: str, url_prefix: str, *, allow_session: bool = False
) -> Blueprint:
    """A blueprint whose routes behave as the API's: authenticated (:func:`authenticate`),
    rate limited, JSON in (:func:`require_json_body`) and JSON errors out."""
    blueprint = Blueprint(name, import_name, url_prefix=url_prefix)
    limit_blueprint(blueprint, limits=API_LIMITS)
    errors.answer_json(blueprint)

    @blueprint.before_request
    async def require_user() -> None:
        """A bearer token (or, where allowed, the dashboard's session)."""
        await authenticate(allow_session=allow_session)

    blueprint.before_request(require_json_body)
    return blueprint


bp = json_api_blueprint("api", __name__, "/api")

from app.api import silences, views  # noqa: E402,F401  - registers the routes on bp
