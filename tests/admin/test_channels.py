"""The admin page's channels: what is configured, and a test alert per channel on demand."""

from __future__ import annotations

import re
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select

from app.db import get_db
from app.dispatch import get_dispatcher
from app.models import AlertRecord, User
from tests.admin.test_users import admin_post
from tests.conftest import AuthActions, flashes
from tests.sample_channels import (
    FailingChannel,
    FlakyChannel,
    HangingChannel,
    RecordingChannel,
    path,
)

pytestmark = pytest.mark.storage
CHANNELS = [RecordingChannel, FailingChannel, HangingChannel, FlakyChannel]


@pytest.fixture(name="settings")
def _channel_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return settings | {
        "CHANNELS": [path(cls) for cls in CHANNELS],
        "ROUTES": {"critical": ["failing", "flaky"]},
        "FLAKY_FAILURES": 0,
        "CHANNEL_TIMEOUT": 0.5,
    }


async def test_admin_lists_each_channel_with_its_class_and_routes(
    auth: AuthActions, client: Client, admin: User
) -> None:
    await auth.login("root")
    page = await (await client.get("/admin")).get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-channel="([^"]+)">(.*?)</tr>', page, re.S))
    assert list(rows) == ["recording", "failing", "hanging", "flaky"]
    cells = re.findall(r"<td>(.*?)</td>", rows["recording"], re.S)
    assert cells[:3] == ["recording", f"<code>{path(RecordingChannel)}</code>", "info, warning"]
    assert "<td>info, warning, critical</td>" in rows["failing"]
    for name, row in rows.items():
        assert f'action="/admin/channels/{name}/test"' in row
        assert f'aria-label="Send a test alert via {name}">Send test</button>' in row


@pytest.mark.parametrize(
    ("channel", "flash"),
    [
        ("recording", ("success", "Test alert sent via recording.")),
        ("flaky", ("success", "Test alert sent via flaky. Provider reference: ref-0.")),
        (
            "failing",
            ("error", "Test via failing failed: DeliveryError: provider said no (code 21211)"),
        ),
        ("hanging", ("error", "Test via hanging failed: timed out after 0.5 s")),
    ],
)
async def test_send_test_flashes_the_outcome_and_records_nothing(
    app: Quart,
    auth: AuthActions,
    client: Client,
    admin: User,
    channel: str,
    flash: tuple[str, str],
) -> None:
    await auth.login("root")
    response = await admin_post(client, f"/admin/channels/{channel}/test")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin#channels"
    page = await (await client.get("/admin")).get_data(as_text=True)
    assert flash in flashes(page)
    async with get_db(app).session() as session:
        assert await session.scalar(select(func.count()).select_from(AlertRecord)) == 0


async def test_the_test_alert_says_what_it_is(
    app: Quart, auth: AuthActions, client: Client, admin: User
) -> None:
    await auth.login("root")
    await admin_post(client, "/admin/channels/recording/test")
    recording = get_dispatcher(app).channels["recording"]
    assert isinstance(recording, RecordingChannel)
    (alert,) = recording.received
    assert alert.title == "Herald test"
    assert alert.message == "A test of the recording channel, sent by root from the admin page."
    assert alert.severity == "info"


async def test_unknown_channel_is_404(auth: AuthActions, client: Client, admin: User) -> None:
    await auth.login("root")
    response = await admin_post(client, "/admin/channels/carrier-pigeon/test")
    assert response.status_code == 404
    assert "There is no channel carrier-pigeon." in await response.get_data(as_text=True)


async def test_only_administrators_can_send_tests(
    app: Quart, auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    response = await admin_post(client, "/admin/channels/recording/test")
    assert response.status_code == 403
    recording = get_dispatcher(app).channels["recording"]
    assert isinstance(recording, RecordingChannel)
    assert recording.received == []
