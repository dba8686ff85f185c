"""API token lifecycle: random, prefixed, stored hashed, shown once, revocable, last use."""

from __future__ import annotations

import re

from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from app.auth import hash_token, new_token
from app.db import get_db
from app.models import ApiToken, User
from tests.conftest import AuthActions, csrf_from

NEW_TOKEN = re.compile(r'id="new-token" readonly value="(hrld_[^"]+)"')


def test_tokens_are_random_and_prefixed() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(re.fullmatch(r"hrld_[A-Za-z0-9_-]{43}", t) for t in tokens)


async def create_from_admin_page(client: Client, username: str, label: str) -> str:
    response = await client.post(
        "/admin/tokens",
        form={
            "username": username,
            "label": label,
            "csrf_token": await csrf_from(client, "/admin"),
        },
    )
    assert response.status_code == 201
    match = NEW_TOKEN.search(await response.get_data(as_text=True))
    assert match is not None
    return match.group(1)


async def test_admin_creates_a_token_shown_once_and_stored_hashed(
    app: Quart, auth: AuthActions, client: Client, admin: User, user: User
) -> None:
    await auth.login("root")
    token = await create_from_admin_page(client, "alice", "ci")
    async with get_db(app).session() as session:
        [stored] = await session.scalars(select(ApiToken))
    assert stored.token_hash == hash_token(token)
    assert stored.label == "ci"
    assert stored.user_id == user.id
    page = await (await client.get("/admin")).get_data(as_text=True)
    assert token not in page  # never shown again
    response = await client.get("/api/channels", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_revoking_stops_the_token_at_once(
    app: Quart, auth: AuthActions, client: Client, admin: User
) -> None:
    await auth.login("root")
    token = await create_from_admin_page(client, "root", "to revoke")
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/channels", headers=bearer)).status_code == 200
    async with get_db(app).session() as session:
        token_id = (await session.scalars(select(ApiToken.id))).one()
    revoked = await client.post(
        f"/admin/tokens/{token_id}/revoke", form={"csrf_token": await csrf_from(client, "/admin")}
    )
    assert revoked.status_code == 302
    assert (await client.get("/api/channels", headers=bearer)).status_code == 401
    page = await (await client.get("/admin")).get_data(as_text=True)
    assert "<td>revoked</td>" in page
    assert "Token to revoke revoked." in page


async def test_only_admins_manage_tokens(
    auth: AuthActions, client: Client, user: User, admin: User
) -> None:
    await auth.login("alice")
    token = await csrf_from(client, "/")
    response = await client.post("/admin/tokens", form={"username": "alice", "csrf_token": token})
    assert response.status_code == 403
    assert (
        await client.post("/admin/tokens/1/revoke", form={"csrf_token": token})
    ).status_code == 403


async def test_last_use_is_recorded(app: Quart, client: Client, token: str) -> None:
    await client.get("/api/channels", headers={"Authorization": f"Bearer {token}"})
    async with get_db(app).session() as session:
        stored = (await session.scalars(select(ApiToken))).one()
    assert stored.last_used_at is not None


async def test_a_token_differing_in_one_character_is_refused(client: Client, token: str) -> None:
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    response = await client.get("/api/channels", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
