"""App-wide request hooks: timing and request id in ``g``, security headers, failure logs.

``after_request`` functions run in the reverse of their registration order, and they run
even when a ``before_request`` hook answered early, so every response carries the headers.
The timing hook is registered first so that it runs last and measures the other hooks too.
"""

from __future__ import annotations

import logging
import time
import uuid

from quart import Quart, Response, abort, current_app, g, request
from werkzeug.datastructures import MultiDict

from app.middleware import REQUEST_ID_SCOPE_KEY

logger = logging.getLogger("herald.requests")

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "interest-cohort")
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Permissions-Policy": PERMISSIONS_POLICY,
    # The old XSS auditor is gone from browsers, and where it lingers its "block" mode could
    # be abused to blank out or probe pages; "0" turns it off. The CSP is the protection.
    "X-XSS-Protection": "0",
}
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
HSTS = "max-age=63072000; includeSubDomains"  # two years


async def start_request() -> None:
    """Note when the request started and which id it carries; refuse announced bodies over
    MAX_CONTENT_LENGTH with 413 whether or not the route would read them, and NUL in the
    query string or a form with 400."""
    g.request_started = time.perf_counter()
    g.request_id = request.scope.get(REQUEST_ID_SCOPE_KEY) or uuid.uuid4().hex
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        abort(413, f"The request body is larger than the limit of {limit} bytes.")
    # PostgreSQL cannot store NUL, and no name, filter or form field needs one.
    if holds_nul(request.args):
        abort(400, "The query string must not contain NUL characters.")
    if request.mimetype in FORM_TYPES and holds_nul(await request.form):
        abort(400, "The form must not contain NUL characters.")


def holds_nul(fields: MultiDict[str, str]) -> bool:
    """Whether any name or value, repeated ones included, holds a NUL character."""
    return any("\x00" in name or "\x00" in value for name, value in fields.items(multi=True))


async def add_timing_headers(response: Response) -> Response:
    """``X-Processing-Time`` (seconds, from ``before_request`` to now, as the Flask design
    sent it), the same as ``Server-Timing: app;dur=<ms>`` for browsers' developer tools, and
    ``X-Request-ID``."""
    started = g.get("request_started")
    if started is not None:
        elapsed = time.perf_counter() - started
        response.headers["X-Processing-Time"] = f"{elapsed:.3f}s"
        response.headers["Server-Timing"] = f"app;dur={elapsed * 1000:.1f}"
    if "request_id" in g:
        response.headers["X-Request-ID"] = g.request_id
    return response


async def add_security_headers(response: Response) -> Response:
    """Headers that keep browsers from sniffing, framing or leaking what Herald shows."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config["HSTS"]:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


async def log_failure(error: BaseException | None) -> None:
    """Log a request that ended in an unhandled error, with its request id."""
    error = error or g.pop("unhandled_error", None)
    if error is not None:
        logger.error(
            "request %s %s failed with %s [request_id=%s]",
            request.method,
            request.path,
            type(error).__name__,
            g.get("request_id", "-"),
        )


def init_app(app: Quart) -> None:
    """Register the hooks on ``app``."""
    app.before_request(start_request)
    app.after_request(add_timing_headers)  # registered first: runs last
    app.after_request(add_security_headers)
    app.teardown_request(log_failure)
