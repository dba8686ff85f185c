"""CSRF protection for the dashboard's forms: a per-session token checked on every write."""

from __future__ import annotations

import hmac
import secrets

from quart import abort, request, session

SESSION_KEY = "csrf_token"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def csrf_token() -> str:
    """This session's CSRF token, made on first use."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = session[SESSION_KEY] = secrets.token_urlsafe(32)
    return token


async def protect() -> None:
    """``before_request`` hook: refuse a write whose token is missing or wrong with 400."""
    if request.method not in UNSAFE_METHODS:
        return
    expected = session.get(SESSION_KEY)
    sent = (await request.form).get(FORM_FIELD) or request.headers.get(HEADER)
    if not (
        isinstance(expected, str) and sent and hmac.compare_digest(sent.encode(), expected.encode())
    ):
        abort(400, "The form's CSRF token is missing or invalid; reload the page and try again.")
