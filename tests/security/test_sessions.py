"""Session cookies: flags, lifetime, expiry; production refuses unsafe settings."""

from __future__ import annotations

import time
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from app import create_app
from app.models import User
from config import ConfigError
from tests.conftest import AuthActions, flashes


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
