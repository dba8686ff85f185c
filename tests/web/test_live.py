"""Live statuses over the websocket: who may follow, what is sent, and when it ends."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from quart import Quart
from quart.testing.connections import WebsocketDisconnectError, WebsocketResponseError
from quart.typing import TestClientProtocol as Client
from quart.typing import TestWebsocketConnectionProtocol as Connection

from app.db import get_db
from app.lifecycle import get_policy, resolve
from app.live import Follower
from app.models import User, utcnow
from tests.conftest import AuthActions, post_alert
from tests.sample_channels import FlakyChannel, GatedChannel, RejectingChannel, path

pytestmark = pytest.mark.storage
PAGE = {"view": "page", "alerts": "1"}
BAD_IDS = "alerts must be 1 to 100 alert ids separated by commas."


@pytest.fixture(name="settings")
def _live_settings(settings: dict[str, Any], gate: asyncio.Event) -> dict[str, Any]:
    return settings | {
        "CHANNELS": [path(GatedChannel), path(RejectingChannel), path(FlakyChannel)],
        "GATE": gate,
        "RETRY_MAX_ATTEMPTS": 2,
        "FLAKY_RETRY_AFTER": 1,  # long enough for the retrying state to be seen
    }


async def next_update(connection: Connection) -> dict[str, Any]:
    """The next message, within a deadline."""
    async with asyncio.timeout(10):
        update: dict[str, Any] = await connection.receive_json()
    return update


async def close_code(connection: Connection) -> int:
    """Read until the server closes the connection; its close code."""
    async with asyncio.timeout(10):
        while True:
            try:
                await connection.receive()
            except WebsocketDisconnectError as closed:
                code: int = closed.args[0]
                return code


async def sent_alert(
    auth: AuthActions, client: Client, channels: tuple[str, ...] = ("gated", "rejecting")
) -> None:
    await auth.login()
    response = await post_alert(
        client, message="db1 is down", severity="critical", channels=list(channels)
    )
    assert response.headers["Location"] == "/alerts/1"


def row(html: str, channel: str) -> str:
    """The delivery table's row of the first notification on ``channel``."""
    return html.split(f'<tr data-channel="{channel}" data-notification="firing">')[1].split(
        "</tr>"
    )[0]


async def test_each_change_is_sent_until_every_delivery_is_finished(
    auth: AuthActions, client: Client, user: User, gate: asyncio.Event
) -> None:
    await sent_alert(auth, client)
    async with client.websocket("/live", query_string=PAGE) as connection:
        update = await next_update(connection)
        while "invalid recipient" not in update["html"] or "badge-sending" not in update["html"]:
            update = await next_update(connection)  # until claimed, with the refusal recorded
        assert update["alert"] == 1
        assert update["status"] == "sending"
        gate.set()
        update = await next_update(connection)
        assert update["status"] == "partial"
        assert '<tr data-channel="gated" data-notification="firing">' in update["html"]
        gated = row(update["html"], "gated")
        assert '<span class="badge badge-sent">sent</span>' in gated
        rejecting = row(update["html"], "rejecting")
        assert '<span class="badge badge-failed">failed</span>' in rejecting
        assert "invalid recipient" in rejecting
        assert await close_code(connection) == 1000


async def test_a_finished_alert_is_sent_once_then_the_connection_closes(
    auth: AuthActions, client: Client, user: User, gate: asyncio.Event
) -> None:
    gate.set()
    await sent_alert(auth, client)
    async with client.websocket("/live", query_string={"view": "list", "alerts": "1"}) as ws:
        update = await next_update(ws)
        while update["status"] != "partial":
            update = await next_update(ws)
        assert update["html"].startswith('<ul class="deliveries" data-live-alert="1">')
        assert 'title="PermanentDeliveryError: [21211] invalid recipient"' in update["html"]
        assert await close_code(ws) == 1000


async def test_a_retry_shows_as_retrying_then_sent(
    auth: AuthActions, client: Client, user: User
) -> None:
    await sent_alert(auth, client, ("flaky",))
    seen: list[str] = []
    async with client.websocket("/live", query_string=PAGE) as connection:
        while not seen or seen[-1] != "sent":
            html = (await next_update(connection))["html"]
            seen.append(re.findall(r'<td class="status"><span class="badge badge-(\w+)"', html)[0])
        assert await close_code(connection) == 1000
    assert "retrying" in seen
    assert seen.index("retrying") < seen.index("sent")
    assert (
        "TransientDeliveryError: [503] provider busy" in html
    )  # the first attempt's error stays in the history


async def test_an_expired_session_ends_the_connection(
    auth: AuthActions, client: Client, user: User
) -> None:
    await sent_alert(auth, client)  # the gate stays shut: the alert never finishes
    async with client.session_transaction() as session:
        session["expires_at"] = int(time.time()) + 2
    async with client.websocket("/live", query_string=PAGE) as connection:
        assert await close_code(connection) == 1008


async def test_disabling_the_user_ends_the_connection(
    app: Quart, auth: AuthActions, client: Client, user: User
) -> None:
    await sent_alert(auth, client)  # the gate stays shut: the alert never finishes
    async with client.websocket("/live", query_string=PAGE) as connection:
        await next_update(connection)
        async with get_db(app).session() as session:
            stored = await session.get(User, user.id)
            assert stored is not None
            stored.disabled_at = utcnow()
            await session.commit()
        assert await close_code(connection) == 1008


async def test_anonymous_handshake_is_refused_with_401(client: Client) -> None:
    with pytest.raises(WebsocketResponseError) as refused:
        async with client.websocket("/live", query_string=PAGE) as connection:
            await connection.receive()
    assert refused.value.response.status_code == 401
    assert (await refused.value.response.get_json())["message"] == "Log in to follow alerts live."


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "ftp://localhost",  # the right host with another scheme
        "https://localhost",  # the test client's pages are plain http
        "http://localhost:8080",
        "http://localhost.evil.example",
        "http://user@localhost",
        "null",
    ],
)
async def test_handshake_from_another_origin_is_refused_with_403(
    auth: AuthActions, client: Client, user: User, origin: str
) -> None:
    await auth.login()
    headers = {"Origin": origin}
    with pytest.raises(WebsocketResponseError) as refused:
        async with client.websocket("/live", query_string=PAGE, headers=headers) as connection:
            await connection.receive()
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("origin", ["http://localhost", "http://LOCALHOST:80"])
async def test_handshake_from_this_site_is_accepted(
    auth: AuthActions, client: Client, user: User, gate: asyncio.Event, origin: str
) -> None:
    gate.set()
    await sent_alert(auth, client, ("gated",))
    async with client.websocket("/live", query_string=PAGE, headers={"Origin": origin}) as ws:
        assert (await next_update(ws))["alert"] == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"view": "table", "alerts": "1"}, "view must be one of: list, page."),
        *[
            ({"view": "page", "alerts": ids}, BAD_IDS)
            for ids in ("2147483648", "9" * 30, "1,99999999999999999999", "²", "٣", "0", "-1")
        ],
        ({"view": "page"}, "alerts must be 1 to 100 alert ids separated by commas."),
        (
            {"view": "page", "alerts": "1,x"},
            "alerts must be 1 to 100 alert ids separated by commas.",
        ),
        (
            {"view": "list", "alerts": ",".join(map(str, range(1, 102)))},
            "alerts must be 1 to 100 alert ids separated by commas.",
        ),
    ],
)
async def test_nonsense_queries_are_refused_with_400(
    auth: AuthActions, client: Client, user: User, query: dict[str, str], message: str
) -> None:
    await auth.login()
    with pytest.raises(WebsocketResponseError) as refused:
        async with client.websocket("/live", query_string=query) as connection:
            await connection.receive()
    assert refused.value.response.status_code == 400
    assert (await refused.value.response.get_json())["message"] == message


async def test_pages_following_one_alert_all_see_every_change(
    auth: AuthActions, client: Client, user: User, gate: asyncio.Event
) -> None:
    await sent_alert(auth, client, ("gated",))
    async with client.websocket("/live", query_string=PAGE) as first:
        update = await next_update(first)
        while update["status"] != "sending":
            update = await next_update(first)
        async with client.websocket("/live", query_string=PAGE) as second:
            assert await next_update(second) == update  # the version the first page has
            gate.set()
            for page in (first, second):
                final = await next_update(page)
                while final["status"] != "sent":
                    final = await next_update(page)
                assert '<span class="badge badge-sent">sent</span>' in final["html"]
                assert await close_code(page) == 1000


async def test_a_page_that_cannot_be_read_does_not_stop_the_others(
    app: Quart, auth: AuthActions, client: Client, user: User, gate: asyncio.Event
) -> None:
    await sent_alert(auth, client, ("gated",))
    async with client.websocket("/live", query_string=PAGE) as page:
        update = await next_update(page)
        while update["status"] != "sending":
            update = await next_update(page)
        # A follower that slipped past the handshake's checks: its view's look raises.
        hub = app.extensions["herald.live"]
        stranger = Follower("list", user.id, time.time() + 60, {2**63 + 1})
        hub.followers.add(stranger)
        gate.set()
        update = await next_update(page)
        while update["status"] != "sent":
            update = await next_update(page)
        assert await close_code(page) == 1000
        hub.leave(stranger)


async def test_alerts_that_do_not_exist_end_the_connection_at_once(
    auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    async with (
        client.websocket("/live", query_string={"view": "list", "alerts": "404"}) as ws,
        asyncio.timeout(10),
    ):
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive()  # no message first
    assert closed.value.args[0] == 1000


async def test_the_list_and_the_alert_page_follow_one_alert_together(
    auth: AuthActions, client: Client, user: User, gate: asyncio.Event
) -> None:
    await sent_alert(auth, client, ("gated",))
    listing = {"view": "list", "alerts": "1"}
    async with (
        client.websocket("/live", query_string=PAGE) as page,
        client.websocket("/live", query_string=listing) as row,
    ):
        for connection in (page, row):
            update = await next_update(connection)
            while update["status"] != "sending":
                update = await next_update(connection)
        gate.set()
        for connection, attempts_shown in ((page, True), (row, False)):
            update = await next_update(connection)
            while update["status"] != "sent":
                update = await next_update(connection)
            assert ('class="attempts-table"' in update["html"]) is attempts_shown
            assert await close_code(connection) == 1000


async def test_a_finished_alert_that_comes_back_to_life_is_read_afresh(
    app: Quart, auth: AuthActions, client: Client, user: User, gate: asyncio.Event
) -> None:
    gate.set()
    await sent_alert(auth, client, channels=("gated",))
    async with client.websocket("/live", query_string=PAGE) as connection:
        update = await next_update(connection)
        while update["status"] != "sent":
            update = await next_update(connection)
        assert await close_code(connection) == 1000  # finished: the page closes
    async with get_db(app).session() as session:  # resolving adds a notification
        await resolve(session, 1, get_policy(app))
    async with client.websocket("/live", query_string=PAGE) as connection:
        update = await next_update(connection)
    assert 'data-notification="resolved"' in update["html"]
