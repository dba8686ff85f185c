"""Error handlers: an HTML page for people, JSON for the API and for clients that ask for it.

The API blueprints register JSON handlers of their own (:func:`answer_json`); the app's
handlers cover the rest and choose by path and ``Accept`` (:func:`wants_json`), since a URL
that matches no route belongs to no blueprint.

JSON errors look like ``{"error": "Not Found", "message": "...", "status_code": 404}``. A 500
never shows internals: the page names only the request id, under which the error is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from quart import Blueprint, Quart, g, has_request_context, jsonify, render_template, request
from quart.typing import ResponseReturnValue
from sqlalchemy import exc
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from app.db import DatabaseUnavailableError

logger = logging.getLogger("herald.errors")
# Failures of the database itself, not of what was asked of it: the request may work later.
DATABASE_UNAVAILABLE = (
    exc.OperationalError,  # SQLite: read-only, missing, locked; PostgreSQL: server gone
    exc.InterfaceError,
    exc.DisconnectionError,
    exc.TimeoutError,  # no pooled connection came free in time
    ConnectionError,  # the driver could not connect at all
    DatabaseUnavailableError,  # Herald's own checks (app/db.py)
)
RETRY_DATABASE_AFTER = 5  # seconds
INTERNAL_ERROR_MESSAGE = "Something went wrong on our side; the error has been logged."
# Headers from the exception worth keeping (e.g. Allow on 405, WWW-Authenticate on 401).
PASSED_HEADERS = {"allow", "www-authenticate", "retry-after"}


class InvalidInput(HTTPException):
    """422 with a message per bad field, shown as ``fields`` in the JSON body."""

    code = 422
    name = "Unprocessable Entity"

    def __init__(self, description: str, fields: dict[str, str]) -> None:
        super().__init__(description)
        self.fields = fields


def wants_json() -> bool:
    """True for API paths, for clients that prefer JSON to HTML, and for refused websocket
    handshakes, which no browser shows as a page."""
    if not has_request_context():
        return True
    if request.path == "/api" or request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


Render = Callable[[HTTPException, str | None], Awaitable[ResponseReturnValue]]


async def json_response(error: HTTPException, message: str | None = None) -> ResponseReturnValue:
    """``error`` as JSON; ``message`` instead of its description when given."""
    status = error.code or 500
    body: dict[str, object] = {
        "error": error.name,
        "message": message or error.description or error.name,
        "status_code": status,
    }
    if isinstance(error, InvalidInput):
        body["fields"] = error.fields
    return jsonify(body), status, passed_headers(error)


async def page_response(error: HTTPException, message: str | None = None) -> ResponseReturnValue:
    """``error`` as an HTML page."""
    status = error.code or 500
    text = message or error.description or error.name
    page = await render_template("errors/error.html", status=status, title=error.name, message=text)
    return page, status, passed_headers(error)


async def error_response(error: HTTPException, message: str | None = None) -> ResponseReturnValue:
    """``error`` in the format the client wants (:func:`wants_json`)."""
    render = json_response if wants_json() else page_response
    return await render(error, message)


def passed_headers(error: HTTPException) -> dict[str, str]:
    """The exception's headers worth keeping in the answer."""
    return {k: v for k, v in error.get_headers() if k.lower() in PASSED_HEADERS}


def register(target: Quart | Blueprint, render: Render) -> None:
    """Answer every HTTP error, unhandled exception and database outage raised in ``target``
    with ``render``."""

    async def http_error(error: HTTPException) -> ResponseReturnValue:
        """Any ``abort()`` or routing error: 400, 401, 403, 404, 405, 413, 422, 429, ..."""
        return await render(error, None)

    async def internal_error(error: InternalServerError) -> ResponseReturnValue:
        """Unhandled exceptions arrive wrapped in a 500; tell the client nothing about them."""
        g.unhandled_error = error.original_exception or error
        message = f"{INTERNAL_ERROR_MESSAGE} Request id: {g.get('request_id', '-')}."
        return await render(InternalServerError(), message)

    async def database_unavailable(error: Exception) -> ResponseReturnValue:
        """The database cannot be used right now: 503 with Retry-After, the cause logged."""
        logger.warning(
            "request %s %s: the database is unavailable: %s [request_id=%s]",
            request.method,
            request.path,
            error,
            g.get("request_id", "-"),
        )
        unavailable = ServiceUnavailable(
            "The database is unavailable; try again shortly.", retry_after=RETRY_DATABASE_AFTER
        )
        return await render(unavailable, None)

    target.register_error_handler(HTTPException, http_error)
    target.register_error_handler(InternalServerError, internal_error)
    for database_error in DATABASE_UNAVAILABLE:
        target.register_error_handler(database_error, database_unavailable)


def answer_json(blueprint: Blueprint) -> None:
    """A JSON API blueprint's own handlers: its errors are JSON whatever the client accepts."""
    register(blueprint, json_response)


def init_app(app: Quart) -> None:
    """The app's handlers, for what no blueprint handles: URLs that match no route (under
    /api these answer JSON too), and the pages, which answer as the client prefers."""
    register(app, error_response)
