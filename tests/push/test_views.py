"""Web Push on the app's side: the routes browsers subscribe through, the dashboard's offer,
and the vapid-keys command; and none of it without a webpush channel."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from channels.webpush import WebPushChannel
from channels.webpush.keys import b64url
from tests.conftest import migrated_app
from tests.webpush import (
    SUBJECT,
    VAPID_PUBLIC,
    Browser,
    subscribe,
    subscriptions_count,
)

pytestmark = pytest.mark.storage


@pytest.fixture(name="app")
async def _app(push_settings: dict[str, Any]) -> AsyncIterator[Quart]:
    app = await migrated_app(push_settings)
    async with app.test_app():
        yield app


async def test_public_key_is_served_for_browsers(client: Client, bearer: dict[str, str]) -> None:
    response = await client.get("/api/push/vapid-public-key", headers=bearer)
    assert await response.get_json() == {"public_key": VAPID_PUBLIC}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endpoint": "not-a-url"}, "endpoint"),
        ({"keys": {"p256dh": "AAAA", "auth": b64url(os.urandom(16))}}, "keys.p256dh"),
        ({"keys": {"p256dh": None, "auth": b64url(os.urandom(16))}}, "keys.p256dh"),
        ({"keys": {"auth": b64url(os.urandom(16))}}, "keys.p256dh"),
    ],
)
async def test_bad_subscriptions_are_refused(
    app: Quart, client: Client, bearer: dict[str, str], change: dict[str, Any], field: str
) -> None:
    body = {**Browser.new().subscription("https://push.example/x"), **change}
    response = await subscribe(client, bearer, body)
    assert response.status_code == 422
    assert field in (await response.get_json())["fields"]
    assert await subscriptions_count(app) == 0


async def test_resubscribing_updates_keys_and_delete_removes(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    endpoint = "https://push.example/same"
    first = await (await subscribe(client, bearer, Browser.new().subscription(endpoint))).get_json()
    second = await (
        await subscribe(client, bearer, Browser.new().subscription(endpoint))
    ).get_json()
    assert first["id"] == second["id"]
    assert await subscriptions_count(app) == 1
    gone = await client.delete(f"/api/push/subscriptions/{first['id']}", headers=bearer)
    assert gone.status_code == 204
    assert await subscriptions_count(app) == 0
    again = await client.delete(f"/api/push/subscriptions/{first['id']}", headers=bearer)
    assert again.status_code == 404


async def test_dashboard_session_can_subscribe_with_the_csrf_header(
    app: Quart, client: Client, auth: Any, user: Any
) -> None:
    from tests.conftest import csrf_from

    await auth.login()
    body = Browser.new().subscription("https://push.example/session")
    refused = await client.post("/api/push/subscriptions", json=body)
    assert refused.status_code == 400  # no CSRF header
    token = await csrf_from(client, "/")
    accepted = await client.post(
        "/api/push/subscriptions", json=body, headers={"X-CSRF-Token": token}
    )
    assert accepted.status_code == 201
    assert await subscriptions_count(app) == 1


async def test_dashboard_offers_notifications_and_serves_the_worker(
    client: Client, auth: Any, user: Any
) -> None:
    await auth.login()
    page = await (await client.get("/")).get_data(as_text=True)
    assert 'id="enable-push"' in page
    assert "/static/push.js" in page
    worker = await client.get("/sw.js")
    assert worker.status_code == 200
    assert "showNotification" in await worker.get_data(as_text=True)


def test_vapid_keys_command_prints_a_usable_pair(app: Quart) -> None:
    result = app.test_cli_runner().invoke(args=["vapid-keys"])
    private = result.output.split("HERALD_VAPID_PRIVATE_KEY=")[1].split()[0]
    channel = WebPushChannel({"VAPID_PRIVATE_KEY": private, "VAPID_SUBJECT": SUBJECT})
    assert channel.public_key in result.output
