"""The login gate, login and logout, flash categories and open-redirect protection."""

from __future__ import annotations

from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.models import User
from tests.conftest import AuthActions, flashes


async def test_anonymous_dashboard_redirects_to_login_with_security_flash(
    client: Client,
) -> None:
    response = await client.get("/alerts/1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/alerts/1"

    page = await (await client.get("/login?next=/alerts/1")).get_data(as_text=True)
    # category_filter puts the security notice in its own section, apart from other flashes
    section = page.split('<section class="security-notices"', 1)[1].split("</section>", 1)[0]
    assert ("security", "Please log in to continue.") in flashes(section)


async def test_security_flash_is_consumed_after_one_display(client: Client) -> None:
    await client.get("/")
    first = await (await client.get("/login")).get_data(as_text=True)
    second = await (await client.get("/login")).get_data(as_text=True)
    assert "Please log in to continue." in first
    assert "Please log in to continue." not in second


async def test_login_success_flashes_and_follows_local_next(
    auth: AuthActions, client: Client, user: User
) -> None:
    response = await auth.login(next_="/admin")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin"
    page = await (await client.get("/")).get_data(as_text=True)
    assert ("success", "Welcome, alice.") in flashes(page)


async def test_wrong_password_answers_401_with_error_flash(auth: AuthActions, user: User) -> None:
    response = await auth.login(password="not the password")
    assert response.status_code == 401
    page = await response.get_data(as_text=True)
    assert ("error", "Invalid username or password.") in flashes(page)


async def test_unknown_user_gets_the_same_answer(auth: AuthActions, user: User) -> None:
    response = await auth.login(username="mallory")
    assert response.status_code == 401
    assert "Invalid username or password." in await response.get_data(as_text=True)


async def test_logout_flashes_info_and_locks_the_dashboard(
    auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    response = await auth.logout()
    assert response.headers["Location"] == "/login"
    page = await (await client.get("/login")).get_data(as_text=True)
    assert ("info", "You have been logged out.") in flashes(page)
    assert (await client.get("/")).status_code == 302


async def test_logout_requires_post(auth: AuthActions, client: Client, user: User) -> None:
    await auth.login()
    assert (await client.get("/logout")).status_code == 405


async def test_login_required_decorator_guards_a_single_view(app: Quart) -> None:
    from app.auth import login_required

    @app.route("/standalone")
    @login_required
    async def standalone() -> str:
        return "secret"

    response = await app.test_client().get("/standalone")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/standalone"
    assert standalone.__name__ == "standalone"  # functools.wraps kept the view's identity
