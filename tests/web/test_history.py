"""The dashboard's alert history: filters by severity, status, channel and text; paging."""

from __future__ import annotations

import re

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.models import User
from tests.channels.conftest import deliver
from tests.conftest import AuthActions

pytestmark = pytest.mark.storage
ROW_ID = re.compile(r'<td><a href="/alerts/(\d+)">\d+</a></td>')


async def listed(client: Client, query: str = "") -> list[int]:
    page = await (await client.get(f"/?{query}")).get_data(as_text=True)
    return [int(n) for n in ROW_ID.findall(page)]


async def history_alert(app: Quart, channel: str, title: str, severity: str, message: str) -> int:
    delivery = await deliver(app, channel, title=title, severity=severity, message=message)
    return delivery.alert_id


@pytest.fixture(name="history")
async def _history(app: Quart, auth: AuthActions, user: User) -> dict[str, int]:
    ids = {
        "disk": await history_alert(app, "recording", "Disk full", "critical", "db1 out of space"),
        "cpu": await history_alert(app, "failing", "CPU hot", "warning", "core temperature"),
        "note": await history_alert(app, "recording", "100% done_ok", "info", "job finished"),
    }
    await auth.login()
    return ids


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["note", "cpu", "disk"]),
        ("severity=critical", ["disk"]),
        ("status=failed", ["cpu"]),
        ("status=sent", ["note", "disk"]),
        ("channel=failing", ["cpu"]),
        ("q=disk", ["disk"]),
        ("q=DISK", ["disk"]),
        ("q=%25", ["note"]),  # a literal %, not a wildcard
        ("q=_", ["note"]),
        ("severity=info&status=failed", []),
        ("severity=bogus", ["note", "cpu", "disk"]),  # unknown values do not filter
    ],
)
async def test_filters(
    client: Client, history: dict[str, int], query: str, expected: list[str]
) -> None:
    assert await listed(client, query) == [history[name] for name in expected]


async def test_no_match_says_so(client: Client, history: dict[str, int]) -> None:
    page = await (await client.get("/?q=nothing-like-this")).get_data(as_text=True)
    assert "No alert matches these filters." in page


async def test_paging_keeps_the_filters(
    app: Quart, auth: AuthActions, client: Client, user: User
) -> None:
    ids = [(await deliver(app, "recording", severity="warning")).alert_id for _ in range(22)]
    await deliver(app, "recording", severity="info")
    await auth.login()
    first = await listed(client, "severity=warning")
    assert first == ids[::-1][:20]
    page = await (await client.get("/?severity=warning")).get_data(as_text=True)
    older = re.search(r'<a class="older" href="([^"]+)"', page)
    assert older is not None
    link = older.group(1).replace("&amp;", "&")
    assert "severity=warning" in link
    second = [int(n) for n in ROW_ID.findall(await (await client.get(link)).get_data(as_text=True))]
    assert second == ids[::-1][20:]
