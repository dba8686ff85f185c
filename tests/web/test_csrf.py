"""Every dashboard write carries the session's CSRF token."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client

from app.models import User
from tests.conftest import PASSWORD, AuthActions, csrf_from


@pytest.mark.parametrize("sent", [None, "", "forged-token", "é-not-ascii"])
async def test_login_with_missing_or_wrong_token_is_refused(
    client: Client, user: User, sent: str | None
) -> None:
    await csrf_from(client)  # the session now has a real token
    form = {"username": "alice", "password": PASSWORD}
    if sent is not None:
        form["csrf_token"] = sent
    response = await client.post("/login", form=form)
    assert response.status_code == 400
    assert "CSRF token is missing or invalid" in await response.get_data(as_text=True)
    async with client.session_transaction() as session:
        assert "user_id" not in session


async def test_alert_form_without_token_sends_nothing(
    auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    response = await client.post("/alerts", form={"message": "hi", "channels": "recording"})
    assert response.status_code == 400
    page = await (await client.get("/")).get_data(as_text=True)
    assert "No alerts yet" in page


async def test_token_in_header_is_accepted(auth: AuthActions, client: Client, user: User) -> None:
    await auth.login()
    token = await csrf_from(client, "/")
    response = await client.post("/logout", headers={"X-CSRF-Token": token})
    assert response.status_code == 302
