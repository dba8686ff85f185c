"""The Web Push channel against a local push service that checks VAPID; the test decrypts the
payload with the subscription's private key, as the browser would."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app import create_app
from channels.base import ChannelConfigError
from channels.webpush import WebPushChannel
from tests.channels.conftest import deliver
from tests.conftest import migrated_app
from tests.servers import HANG, Reply
from tests.webpush import (
    SUBJECT,
    VAPID_PUBLIC,
    Browser,
    PushService,
    subscribe,
    subscriptions_count,
    unb64,
    vapid_claims,
)

pytestmark = pytest.mark.storage


@pytest.fixture(name="app")
async def _app(push_settings: dict[str, Any]) -> AsyncIterator[Quart]:
    app = await migrated_app(push_settings)
    async with app.test_app():
        yield app


async def test_browser_decrypts_the_alert_and_vapid_verifies(
    app: Quart, client: Client, bearer: dict[str, str], push_service: PushService
) -> None:
    browser = Browser.new()
    response = await subscribe(client, bearer, browser.subscription(f"{push_service.url}/push/1"))
    assert response.status_code == 201
    delivery = await deliver(app, "webpush", title="db1 disk", message="Disk 99% full")
    assert delivery.status == "sent", delivery.error
    [request] = push_service.received
    assert request.path == "/push/1"
    assert request.headers["ttl"] == str(24 * 3600)
    assert request.headers["urgency"] == "high"
    claims = vapid_claims(request, audience=push_service.url)
    assert claims["sub"] == SUBJECT
    assert claims["k"] == VAPID_PUBLIC
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    payload = browser.decrypt(request.body)
    assert payload == {
        "title": "[CRITICAL] db1 disk",
        "body": "Disk 99% full",
        "severity": "critical",
        "state": "firing",
        "alert_id": delivery.alert_id,
        "url": f"/alerts/{delivery.alert_id}",
    }


async def test_gone_subscription_is_deleted(
    app: Quart, client: Client, bearer: dict[str, str], push_service: PushService
) -> None:
    await subscribe(client, bearer, Browser.new().subscription(f"{push_service.url}/push/old"))
    push_service.script.append(Reply(410, {"reason": "expired"}))
    delivery = await deliver(app, "webpush")
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert await subscriptions_count(app) == 0


async def test_push_service_error_is_retried(
    app: Quart, client: Client, bearer: dict[str, str], push_service: PushService
) -> None:
    await subscribe(client, bearer, Browser.new().subscription(f"{push_service.url}/push/2"))
    push_service.script.append(Reply(503))
    delivery = await deliver(app, "webpush")
    assert (delivery.status, delivery.attempts) == ("sent", 2)


async def test_hanging_push_service_times_out(
    app: Quart, client: Client, bearer: dict[str, str], push_service: PushService
) -> None:
    await subscribe(client, bearer, Browser.new().subscription(f"{push_service.url}/push/3"))
    push_service.default = HANG
    delivery = await deliver(app, "webpush")
    assert (delivery.status, delivery.attempts) == ("failed", 3)


async def test_no_subscribers_is_a_permanent_failure(app: Quart) -> None:
    delivery = await deliver(app, "webpush")
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "no browser has subscribed" in str(delivery.error)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"VAPID_PRIVATE_KEY": None}, "VAPID_PRIVATE_KEY: required"),
        ({"VAPID_PRIVATE_KEY": "c2hvcnQ"}, "VAPID_PRIVATE_KEY: not a P-256 private key"),
        ({"VAPID_SUBJECT": "ops@herald.example"}, "VAPID_SUBJECT: must be a mailto:"),
    ],
)
def test_bad_settings_are_refused_at_start_up(
    push_settings: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ChannelConfigError, match=message):
        create_app({**push_settings, **change}, env="testing")


def test_pem_keys_are_accepted(push_settings: dict[str, Any]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    channel = WebPushChannel({**push_settings, "VAPID_PRIVATE_KEY": pem})
    expected = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert unb64(channel.public_key) == expected


def test_the_vapid_jwt_is_signed_once_per_push_service_and_hour(
    push_settings: dict[str, Any],
) -> None:
    channel = WebPushChannel(push_settings)
    now = 1_800_000_000.0
    first = channel.vapid_headers("https://fcm.googleapis.com/fcm/send/a", now)
    same_service = channel.vapid_headers("https://fcm.googleapis.com/fcm/send/b", now + 60)
    other_service = channel.vapid_headers("https://updates.push.services.mozilla.com/x", now)
    an_hour_later = channel.vapid_headers("https://fcm.googleapis.com/fcm/send/a", now + 3600)
    assert same_service == first  # reused: no signature per push
    assert other_service != first  # each push service has its own audience
    assert an_hour_later != first  # signed again, well before the 12 h expiry
    assert "vapid t=" in first["Authorization"]
