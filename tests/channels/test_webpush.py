"""Web Push against a local push service that checks VAPID; the test decrypts the payload
with the subscription's private key, as the browser would."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select

from app import create_app
from app.db import get_db
from app.models import PushSubscriptionRecord
from channels.base import ChannelConfigError
from channels.webpush import WebPushChannel, b64url, new_vapid_keys
from tests.channels.conftest import deliver
from tests.conftest import migrated_app
from tests.sample_channels import path
from tests.servers import HANG, Captured, ProviderSink, Reply

pytestmark = pytest.mark.storage

VAPID_PRIVATE, VAPID_PUBLIC = new_vapid_keys()
SUBJECT = "mailto:ops@herald.example"


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A browser's side of a subscription: its ECDH key pair and auth secret."""

    key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def new(cls) -> Browser:
        return cls(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    def subscription(self, endpoint: str) -> dict[str, Any]:
        """What ``PushSubscription.toJSON()`` gives."""
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        keys = {"p256dh": b64url(public), "auth": b64url(self.auth)}
        return {"endpoint": endpoint, "expirationTime": None, "keys": keys}

    def decrypt(self, body: bytes) -> Any:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


def vapid_claims(request: Captured, audience: str) -> dict[str, Any]:
    """Verify ``Authorization: vapid t=<JWT>,k=<key>`` as a push service does."""
    scheme, _, params = request.headers["authorization"].partition(" ")
    if scheme != "vapid":
        raise ValueError(f"scheme {scheme!r}")
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(parts["k"]))
    claims: dict[str, Any] = jwt.decode(parts["t"], public, algorithms=["ES256"], audience=audience)
    return {**claims, "k": parts["k"]}


class PushService(ProviderSink):
    """Refuses what a push service refuses: no aes128gcm, no TTL, a VAPID JWT that fails."""

    def __init__(self) -> None:
        super().__init__(Reply(201), self.check_request)

    def check_request(self, request: Captured) -> Reply | None:
        if request.headers.get("content-encoding") != "aes128gcm" or "ttl" not in request.headers:
            return Reply(400, {"reason": "missing encryption headers"})
        try:
            vapid_claims(request, audience=self.url)
        except (jwt.InvalidTokenError, KeyError, ValueError):
            return Reply(401, {"reason": "invalid VAPID"})
        return None


@pytest.fixture(name="push_service")
async def _push_service() -> AsyncIterator[PushService]:
    service = PushService()
    async with service.serving():
        yield service


@pytest.fixture(name="push_settings")
def _push_settings(settings: dict[str, Any]) -> dict[str, Any]:
    settings.update(
        CHANNELS=[path(WebPushChannel)],
        VAPID_PRIVATE_KEY=VAPID_PRIVATE,
        VAPID_SUBJECT=SUBJECT,
        RETRY_MAX_ATTEMPTS=3,
        CHANNEL_TIMEOUT=0.5,
    )
    return settings


@pytest.fixture(name="app")
async def _app(push_settings: dict[str, Any]) -> AsyncIterator[Quart]:
    app = await migrated_app(push_settings)
    async with app.test_app():
        yield app


async def subscribe(client: Client, bearer: dict[str, str], body: dict[str, Any]) -> Any:
    return await client.post("/api/push/subscriptions", json=body, headers=bearer)


async def subscriptions_count(app: Quart) -> int:
    async with get_db(app).session() as session:
        return int(
            await session.scalar(select(func.count()).select_from(PushSubscriptionRecord)) or 0
        )


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


def test_vapid_keys_command_prints_a_usable_pair(app: Quart) -> None:
    result = app.test_cli_runner().invoke(args=["vapid-keys"])
    private = result.output.split("HERALD_VAPID_PRIVATE_KEY=")[1].split()[0]
    channel = WebPushChannel({"VAPID_PRIVATE_KEY": private, "VAPID_SUBJECT": SUBJECT})
    assert channel.public_key in result.output
