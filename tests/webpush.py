"""Web Push for tests: a browser's side of a subscription, a push service that checks what
a real one checks, and the settings of an app with the webpush channel (fixtures)."""

from __future__ import annotations

import base64
import json
import os
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

from app.db import get_db
from app.models import PushSubscriptionRecord
from channels.webpush import WebPushChannel, new_vapid_keys
from channels.webpush.keys import b64url
from tests.sample_channels import path
from tests.servers import Captured, ProviderSink, Reply

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


async def subscribe(client: Client, bearer: dict[str, str], body: dict[str, Any]) -> Any:
    return await client.post("/api/push/subscriptions", json=body, headers=bearer)


async def subscriptions_count(app: Quart) -> int:
    async with get_db(app).session() as session:
        return int(
            await session.scalar(select(func.count()).select_from(PushSubscriptionRecord)) or 0
        )
