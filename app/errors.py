"""Error handlers: an HTML page for people, JSON for the API and for clients that ask for it.

JSON errors look like ``{"error": "Not Found", "message": "...", "status_code": 404}``. A 500
never shows internals: the page names only the request id, under which the error is logged.
"""

from __future__ import annotations

import logging

from quart import Quart, g, has_request_context, jsonify, render_template, request
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


async def error_response(error: HTTPException, message: str | None = None) -> ResponseReturnValue:
    """Render ``error`` in the format the client wants."""
    status = error.code or 500
    text = message or error.description or error.name
    headers = {k: v for k, v in error.get_headers() if k.lower() in PASSED_HEADERS}
    if wants_json():
        body: dict[str, object] = {"error": error.name, "message": text, "status_code": status}
        if isinstance(error, InvalidInput):
            body["fields"] = error.fields
        return jsonify(body), status, headers
    page = await render_template("errors/error.html", status=status, title=error.name, message=text)
    return page, status, headers


async def handle_http_error(error: HTTPException) -> ResponseReturnValue:
    """Any ``abort()`` or routing error: 400, 401, 403, 404, 405, 413, 422, 429, ..."""
    return await error_response(error)


async def handle_internal_error(error: InternalServerError) -> ResponseReturnValue:
    """Unhandled exceptions arrive here wrapped in a 500; tell the client nothing about them."""
    g.unhandled_error = error.original_exception or error
    message = f"{INTERNAL_ERROR_MESSAGE} Request id: {g.get('request_id', '-')}."
    return await error_response(InternalServerError(), message)


async def handle_database_unavailable(error: Exception) -> ResponseReturnValue:
    """The database cannot be used right now: 503 with Retry-After, the cause in the log."""
    logger.warning(
        "request %s %s: the database is unavailable: %s [request_id=%s]",
        request.method,
        request.path,
        error,
        g.get("request_id", "-"),
    )
    unavailable = ServiceUnavailable(
        "The database is unavailable; try again shortly.",
        retry_after=RETRY_DATABASE_AFTER,
    )
    return await error_response(unavailable)


def init_app(app: Quart) -> None:
    """Register the handlers on ``app``."""
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(InternalServerError, handle_internal_error)
    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, handle_database_unavailable)
