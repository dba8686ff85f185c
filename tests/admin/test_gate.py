"""One gate for every administration page: login first, then administrators only."""

from __future__ import annotations

from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.models import User
from tests.conftest import AuthActions, csrf_from


def admin_rules(app: Quart) -> list[tuple[str, str]]:
    """Every (method, path) the admin blueprint serves, with ids filled in."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            path = rule.rule.replace("<id:user_id>", "1").replace("<id:token_id>", "1")
            path = path.replace("<name>", "recording")
            found += [(m, path) for m in sorted(rule.methods or ()) if m in ("GET", "POST")]
    return found


async def test_the_admin_blueprint_serves_every_admin_page(app: Quart) -> None:
    assert len(admin_rules(app)) == 7


async def test_anonymous_visitors_are_sent_to_log_in(app: Quart, client: Client) -> None:
    for method, path in admin_rules(app):
        response = await (client.get(path) if method == "GET" else client.post(path))
        assert response.status_code == 302, (method, path)
        assert response.headers["Location"].startswith("/login"), (method, path)


async def test_users_who_are_not_administrators_get_403(
    app: Quart, auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    token = await csrf_from(client, "/")
    for method, path in admin_rules(app):
        if method == "GET":
            response = await client.get(path)
        else:
            response = await client.post(path, form={"csrf_token": token})
        assert response.status_code == 403, (method, path)


async def test_administrators_get_in(auth: AuthActions, client: Client, admin: User) -> None:
    await auth.login("root")
    assert (await client.get("/admin")).status_code == 200
