"""Session fixation: signing in always starts a brand-new session."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client

from app.models import User
from tests.conftest import AuthActions, csrf_from


async def test_login_replaces_the_session(client: Client, user: User) -> None:
    token_before = await csrf_from(client)
    async with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    await client.post(
        "/login",
        form={
            "username": "alice",
            "password": "correct horse battery staple",
            "csrf_token": token_before,
        },
    )
    async with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != token_before
        assert isinstance(session.get("user_id"), int)


async def test_the_session_cookie_changes_at_login(
    auth: AuthActions, client: Client, user: User
) -> None:
    before = (await client.get("/login")).headers.get("Set-Cookie", "")
    after = (await auth.login()).headers["Set-Cookie"]
    assert after.split(";")[0] != before.split(";")[0]
