"""Session cookies: flags, lifetime, expiry; production refuses unsafe settings."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from app import create_app
from app.db import get_db
from app.lifecycle import record_alert
from app.models import AlertRecord, User, utcnow
from config import ConfigError
from tests.conftest import CSRF_INPUT, AuthActions, csrf_from, flashes
from tests.web.test_live import PAGE, close_code


async def test_session_cookie_is_httponly_and_samesite_lax(auth: AuthActions, user: User) -> None:
    response = await auth.login()
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("herald_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # a lifetime, not a cookie that lives forever
    assert "Secure" not in cookie  # development serves plain http


async def test_an_expired_session_goes_back_to_login_saying_so(
    auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    async with client.session_transaction() as session:
        session["expires_at"] = int(time.time()) - 1
    response = await client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/"
    page = await (await client.get("/login")).get_data(as_text=True)
    assert ("security", "Your session has expired.") in flashes(page)
    async with client.session_transaction() as session:
        assert "user_id" not in session


async def test_a_session_without_an_expiry_is_not_trusted(
    auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    async with client.session_transaction() as session:
        del session["expires_at"]
    assert (await client.get("/")).status_code == 302


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"HERALD_DEBUG": "true"}, "DEBUG: must be off in production"),
        ({"HERALD_SESSION_COOKIE_SECURE": "false"}, "SESSION_COOKIE_SECURE: must be true"),
        ({"HERALD_SECRET_KEY": "herald-development-secret-key-change-me"}, "SECRET_KEY: "),
    ],
)
def test_production_refuses_unsafe_settings(
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, Any],
    variables: dict[str, str],
    message: str,
) -> None:
    monkeypatch.setenv("HERALD_ENV", "production")
    monkeypatch.setenv("HERALD_SECRET_KEY", "a-long-production-secret-key")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        create_app({"DATABASE_URL": settings["DATABASE_URL"]})


def test_production_cookies_are_secure(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any]
) -> None:
    monkeypatch.setenv("HERALD_ENV", "production")
    monkeypatch.setenv("HERALD_SECRET_KEY", "a-long-production-secret-key")
    app = create_app({"DATABASE_URL": settings["DATABASE_URL"]})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def session_cookie(client: Client) -> str:
    """The session cookie the client holds now, as an attacker would copy it."""
    assert client.cookie_jar is not None
    [value] = [c.value for c in client.cookie_jar if c.name == "herald_session" and c.value]
    return value


def thief(app: Quart, cookie: str) -> Client:
    """A client of someone who copied the session cookie."""
    client = app.test_client()
    client.set_cookie("localhost", "herald_session", cookie)
    return client


async def dashboard_status(app: Quart, cookie: str) -> int:
    """What ``GET /`` answers a saved cookie now: 200, or 302 to the login page."""
    return (await thief(app, cookie).get("/")).status_code


async def send_with(app: Quart, cookie: str) -> int:
    """POST the compose form with a saved cookie (and the CSRF token its session holds)."""
    client = thief(app, cookie)
    page = await (await client.get("/")).get_data(as_text=True)
    match = CSRF_INPUT.search(page)
    form = {"message": "replayed", "csrf_token": match.group(1) if match else ""}
    return (await client.post("/alerts", form=form)).status_code


async def test_a_cookie_saved_before_logout_opens_nothing_after(
    app: Quart, auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    saved = session_cookie(client)
    assert await send_with(app, saved) == 302  # the cookie works while signed in...
    await auth.logout()
    assert await dashboard_status(app, saved) == 302  # ...and opens the login page after
    assert await send_with(app, saved) in (302, 400)
    async with get_db(app).session() as session:
        sent = await session.scalars(select(AlertRecord.message))
        assert list(sent) == ["replayed"]  # only the one sent before logging out


@pytest.mark.parametrize("action", ["password", "disable"])
async def test_an_admin_action_ends_the_users_sessions(
    app: Quart, auth: AuthActions, client: Client, user: User, admin: User, action: str
) -> None:
    await auth.login()
    saved = session_cookie(client)
    assert await dashboard_status(app, saved) == 200
    admin_client = app.test_client()
    await AuthActions(admin_client).login("root")
    token = await csrf_from(admin_client, "/admin")
    form = {"csrf_token": token, "password": "a brand new password"}
    response = await admin_client.post(f"/admin/users/{user.id}/{action}", form=form)
    assert response.status_code == 302
    assert await dashboard_status(app, saved) == 302
    assert (await client.get("/")).status_code == 302  # the user's own browser too
    if action == "password":  # the new password signs in afresh
        assert (await auth.login(password="a brand new password")).status_code == 302
        assert (await client.get("/")).status_code == 200


async def test_logging_out_elsewhere_closes_live_pages(
    app: Quart, auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    async with get_db(app).session() as session:  # an alert waiting for a retry tomorrow
        record = await record_alert(session, message="later", channels=["recording"], source="t")
        record.deliveries[0].status = "retrying"
        record.deliveries[0].next_attempt_at = utcnow() + timedelta(days=1)
        await session.commit()
    saved = session_cookie(client)
    async with thief(app, saved).websocket("/live", query_string=PAGE) as connection:
        await auth.logout()
        assert await close_code(connection) == 1008
