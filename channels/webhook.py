"""Signed webhooks per the Standard Webhooks spec (https://www.standardwebhooks.com/).

Each URL in ``WEBHOOK_URLS`` receives a JSON POST with ``webhook-id`` (stable per alert, so
receivers can drop repeats), ``webhook-timestamp`` (the attempt's time) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` keyed with ``WEBHOOK_SECRET``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from math import floor
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from channels.base import Alert, ChannelConfigError, Receipt
from channels.fanout import FanOut
from channels.http import HttpChannel, origin

EVENT_TYPE = "alert.created"  # the first notification; then alert.repeated, alert.resolved


def event_type(alert: Alert) -> str:
    """``alert.created``, ``alert.repeated`` or ``alert.resolved``."""
    if alert.resolved:
        return "alert.resolved"
    return EVENT_TYPE if alert.notification == "firing" else "alert.repeated"


def webhook_id(alert: Alert) -> str:
    """The ``webhook-id``: the same for every attempt at one notification."""
    return f"msg_{alert.notification_id}"


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """The body every receiver gets (documented in the README)."""
    return {
        "type": event_type(alert),
        "timestamp": alert.created_at.isoformat(),
        "data": {
            "id": alert.id,
            "uid": alert.uid,
            "title": alert.title,
            "message": alert.message,
            "severity": alert.severity,
            "state": alert.state,
            "notification": alert.notification,
            "dedup_key": alert.dedup_key or None,
            "labels": dict(alert.labels),
            "url": alert.url or None,
            "created_at": alert.created_at.isoformat(),
        },
    }


class WebhookChannel(HttpChannel):
    """Posts each alert, signed, to every URL in ``WEBHOOK_URLS``."""

    name = "webhook"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        urls = self.setting("WEBHOOK_URLS")
        if not isinstance(urls, list) or not all(
            isinstance(u, str) and u.startswith(("https://", "http://")) for u in urls
        ):
            raise ChannelConfigError("WEBHOOK_URLS: must be a list of http(s) URLs")
        self.urls: list[str] = urls
        secret = str(self.setting("WEBHOOK_SECRET"))
        if not secret.startswith("whsec_"):
            raise ChannelConfigError("WEBHOOK_SECRET: must be a 'whsec_' secret")
        try:
            self._signer = Webhook(secret)
        except (ValueError, EmptyWebhookSecretError):
            raise ChannelConfigError(
                "WEBHOOK_SECRET: needs base64 key bytes after 'whsec_'"
            ) from None
        self._fan_out = FanOut(self)

    def signed_headers(
        self, alert: Alert, body: str, now: datetime | None = None
    ) -> dict[str, str]:
        """The three Standard Webhooks headers for ``body`` sent at ``now``."""
        moment = now or datetime.now(UTC)
        message_id = webhook_id(alert)
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(floor(moment.timestamp())),
            "webhook-signature": self._signer.sign(message_id, moment, body),
            "content-type": "application/json",
        }

    async def _post(self, alert: Alert, url: str) -> None:
        body = json.dumps(webhook_payload(alert), separators=(",", ":"))
        await self.request("POST", url, content=body, headers=self.signed_headers(alert, body))

    async def send(self, alert: Alert) -> Receipt:
        """Post to every URL; URLs that already took this alert are skipped on a retry."""

        async def post(url: str) -> str | None:
            await self._post(alert, url)
            return None

        return await self._fan_out.send(alert, self.urls, post, label=origin)
