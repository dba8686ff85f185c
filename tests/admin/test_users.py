"""Administrators manage users: create, disable (sessions and tokens stop), reset passwords."""

from __future__ import annotations

import pytest
from quart import Quart, Response
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from app.auth import verify_password
from app.db import get_db
from app.models import User
from tests.conftest import AuthActions, csrf_from

pytestmark = pytest.mark.storage


async def admin_post(client: Client, url: str, **form: str) -> Response:
    return await client.post(url, form={"csrf_token": await csrf_from(client, "/admin"), **form})


async def stored(app: Quart, username: str) -> User:
    async with get_db(app).session() as session:
        user = await session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


async def test_admin_adds_a_user_who_can_log_in(
    app: Quart, auth: AuthActions, client: Client, admin: User
) -> None:
    await auth.login("root")
    response = await admin_post(client, "/admin/users", username="carol", password="carols-pass1")
    assert response.status_code == 302
    carol = await stored(app, "carol")
    assert not carol.is_admin
    assert verify_password(carol.password_hash, "carols-pass1")
    await auth.logout()
    assert (await auth.login("carol", "carols-pass1")).status_code == 302


@pytest.mark.parametrize(
    ("username", "password", "field", "message"),
    [
        ("bad name", "long-enough", "username", "Use 1 to 64 letters"),
        ("dave", "short", "password", "at least 8 characters"),
        ("root", "long-enough", "username", "There is already a user named root."),
    ],
)
async def test_invalid_new_users_are_explained_next_to_the_field(
    auth: AuthActions,
    client: Client,
    admin: User,
    username: str,
    password: str,
    field: str,
    message: str,
) -> None:
    await auth.login("root")
    response = await admin_post(client, "/admin/users", username=username, password=password)
    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert f'id="new-{field}-error">' in page
    assert message in page


async def test_disabling_ends_sessions_tokens_and_logins(
    app: Quart, auth: AuthActions, client: Client, admin: User, user: User, token: str
) -> None:
    await auth.login("root")
    response = await admin_post(client, f"/admin/users/{user.id}/disable")
    assert response.status_code == 302
    assert (await stored(app, "alice")).disabled_at is not None
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/channels", headers=bearer)).status_code == 401
    other = app.test_client()
    assert (await AuthActions(other).login("alice")).status_code == 401


async def test_an_admin_cannot_disable_themself(
    app: Quart, auth: AuthActions, client: Client, admin: User
) -> None:
    await auth.login("root")
    await admin_post(client, f"/admin/users/{admin.id}/disable")
    assert (await stored(app, "root")).disabled_at is None
    assert "You cannot disable yourself." in await (await client.get("/admin")).get_data(
        as_text=True
    )


async def test_resetting_a_password(
    app: Quart, auth: AuthActions, client: Client, admin: User, user: User
) -> None:
    await auth.login("root")
    await admin_post(client, f"/admin/users/{user.id}/password", password="brand-new-pass")
    assert verify_password((await stored(app, "alice")).password_hash, "brand-new-pass")
    response = await admin_post(client, f"/admin/users/{user.id}/password", password="short")
    assert response.status_code == 422
    page = await response.get_data(as_text=True)  # the error stands next to alice's field
    assert (
        f'aria-invalid="true" aria-describedby="password-{user.id}-error">'
        in page.split(f'id="password-{user.id}"', 1)[1]
    )
    assert (
        f'<p class="field-error" id="password-{user.id}-error">'
        "Password not changed: Use at least 8 characters.</p>"
    ) in page
    assert verify_password((await stored(app, "alice")).password_hash, "brand-new-pass")


async def test_users_cannot_manage_users(auth: AuthActions, client: Client, user: User) -> None:
    await auth.login()
    token = await csrf_from(client, "/")
    response = await client.post(
        "/admin/users", form={"username": "x", "password": "yyyyyyyy", "csrf_token": token}
    )
    assert response.status_code == 403
