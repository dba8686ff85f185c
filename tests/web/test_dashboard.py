"""Composing alerts, following them, and the admin page."""

from __future__ import annotations

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.dispatch import get_dispatcher
from app.models import User
from tests.conftest import AuthActions, post_alert
from tests.sample_channels import RecordingChannel

pytestmark = pytest.mark.storage


async def test_dashboard_offers_every_channel(
    auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    page = await (await client.get("/")).get_data(as_text=True)
    for channel in ("recording", "failing"):
        assert f'name="channels" value="{channel}">' in page  # offered, unticked


async def test_sending_from_the_form_delivers_and_shows_the_alert(
    app: Quart, auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    response = await post_alert(
        client, title="Disk full", message="db1 at 99%", severity="critical", channels=["recording"]
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/alerts/1"
    assert await get_dispatcher(app).wait_for_alert(1, 5)

    page = await (await client.get("/alerts/1")).get_data(as_text=True)
    assert "Alert #1 is on its way to 1 channel(s)." in page
    assert "Disk full" in page
    assert "db1 at 99%" in page
    assert '<span class="badge badge-sent">sent</span>' in page
    recording = get_dispatcher(app).channels["recording"]
    assert isinstance(recording, RecordingChannel)
    assert [a.title for a in recording.received] == ["Disk full"]


async def test_no_channel_ticked_follows_the_routes(
    app: Quart, auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    response = await post_alert(client, message="routed")
    assert response.status_code == 302
    assert await get_dispatcher(app).wait_for_alert(1, 5)
    page = await (await client.get("/alerts/1")).get_data(as_text=True)
    assert "Alert #1 is on its way to 2 channel(s)." in page  # no ROUTES: every channel


async def test_failed_channel_shows_its_error(
    app: Quart, auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    await post_alert(client, message="boom", channels=["recording", "failing"])
    assert await get_dispatcher(app).wait_for_alert(1, 5)
    page = await (await client.get("/alerts/1")).get_data(as_text=True)
    assert '<span class="badge badge-failed">failed</span>' in page
    assert "DeliveryError: provider said no (code 21211)" in page
    assert '<span class="badge badge-partial">partial</span>' in page


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"message": "", "channels": ["recording"]}, "message", "at least 1 character"),
        ({"message": "   ", "channels": ["recording"]}, "message", "must not be blank"),
        ({"message": "x" * 4001, "channels": ["recording"]}, "message", "at most 4000"),
        ({"message": "hi", "title": "t" * 201, "channels": ["recording"]}, "title", "at most 200"),
        ({"message": "hi", "title": "a\r\nBcc: x", "channels": ["recording"]}, "title", "one line"),
        ({"message": "hi", "title": "a\u2028b", "channels": ["recording"]}, "title", "one line"),
        ({"message": "hi", "title": "a\x85b", "channels": ["recording"]}, "title", "one line"),
        (
            {"message": "hi", "severity": "apocalyptic", "channels": ["recording"]},
            "severity",
            "Input should be &#39;info&#39;",
        ),
        ({"message": "hi", "channels": ["pager"]}, "channels", "unknown channel(s): pager"),
    ],
)
async def test_invalid_form_is_shown_again_with_the_error_and_nothing_sent(
    auth: AuthActions,
    client: Client,
    user: User,
    fields: dict[str, str | list[str]],
    field: str,
    message: str,
) -> None:
    await auth.login()
    response = await post_alert(client, **fields)
    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert message in page
    if field in ("title", "message"):
        assert f'id="{field}-error"' in page
    assert "No alerts yet" in page


async def test_missing_alert_is_a_404_page(auth: AuthActions, client: Client, user: User) -> None:
    await auth.login()
    response = await client.get("/alerts/999")
    assert response.status_code == 404
    assert "There is no alert #999." in await response.get_data(as_text=True)


async def test_admin_page_is_forbidden_to_users(
    auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    response = await client.get("/admin")
    assert response.status_code == 403
    page = await response.get_data(as_text=True)
    assert "403 · Forbidden" in page
    assert "Only administrators can see this page." in page


async def test_admin_page_lists_users_and_tokens(
    auth: AuthActions, client: Client, user: User, admin: User, token: str
) -> None:
    await auth.login("root")
    response = await client.get("/admin")
    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    assert "<td>alice</td>" in page
    assert "<td>root</td><td>administrator</td>" in page
    assert "<td>tests</td>" in page
    assert token not in page  # tokens are shown once, at creation, never again
