"""Web Push (RFC 8030) to every subscribed browser, encrypted with aes128gcm (RFC 8291) and
authenticated with VAPID (RFC 8292). pywebpush encrypts and py-vapid signs; the request goes
out on Herald's shared HTTP client. The subscriptions come from the store handed over with
:meth:`WebPushChannel.use_store`; one the push service reports gone (404 or 410) is deleted.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from py_vapid import Vapid02
from pywebpush import WebPusher, WebPushException

from channels.base import Alert, ChannelConfigError, PermanentDeliveryError, Receipt
from channels.fanout import FanOut
from channels.http import HttpChannel, origin
from channels.webpush.keys import load_private_key, public_key_b64
from channels.webpush.subscriptions import PushSubscription, PushSubscriptionStore

TTL = {"info": 3600, "warning": 12 * 3600, "critical": 24 * 3600}  # seconds kept if offline
URGENCY = {"info": "low", "warning": "normal", "critical": "high"}
MAX_PAYLOAD = 3800  # bytes of JSON; 4096 minus aes128gcm overhead, with room to spare
GONE = frozenset({404, 410})
JWT_LIFETIME = 12 * 3600  # seconds a VAPID JWT is valid
RESIGN_AFTER = 3600  # seconds a signed JWT is reused for one push service
MAX_AUDIENCES = 1024  # push service origins whose JWT is kept


def push_payload(alert: Alert) -> bytes:
    """What the service worker shows: title, body, and where a click leads."""
    body: dict[str, Any] = {
        "title": alert.subject,
        "body": alert.message,
        "severity": alert.severity,
        "state": alert.state,
        "alert_id": alert.id,
        "url": f"/alerts/{alert.id}",
    }
    data = json.dumps(body, ensure_ascii=False).encode()
    while len(data) > MAX_PAYLOAD:  # shorten the body until the whole payload fits
        body["body"] = body["body"][: len(body["body"]) - (len(data) - MAX_PAYLOAD) - 1] + "\u2026"
        data = json.dumps(body, ensure_ascii=False).encode()
    return data


class WebPushChannel(HttpChannel):
    """Notifies every browser that subscribed on the dashboard."""

    name = "webpush"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self._key = load_private_key(str(self.setting("VAPID_PRIVATE_KEY")))
        self.public_key = public_key_b64(self._key)
        self.subject = str(self.setting("VAPID_SUBJECT"))
        if not self.subject.startswith(("mailto:", "https://")):
            raise ChannelConfigError("VAPID_SUBJECT: must be a mailto: or https: URL")
        self._vapid = Vapid02(self._key)
        self._fan_out = FanOut(self)
        self._store: PushSubscriptionStore | None = None
        # push service origin -> (when to sign again, headers)
        self._signed: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()

    def use_store(self, store: PushSubscriptionStore) -> None:
        """Send to the subscriptions kept in ``store``."""
        self._store = store

    @property
    def store(self) -> PushSubscriptionStore:
        """The store from :meth:`use_store`."""
        if self._store is None:
            raise RuntimeError("the webpush channel has no push subscription store")
        return self._store

    def vapid_headers(self, endpoint: str, now: float | None = None) -> dict[str, str]:
        """``Authorization: vapid t=<JWT>, k=<public key>`` for the endpoint's origin: signed
        once per push service and :data:`RESIGN_AFTER`, not once per push (an ECDSA
        signature each), and valid for :data:`JWT_LIFETIME` (at most 24 h, RFC 8292)."""
        audience, moment = origin(endpoint), time.time() if now is None else now
        signed = self._signed.get(audience)
        if signed is None or moment >= signed[0]:
            claims = {"aud": audience, "sub": self.subject, "exp": int(moment) + JWT_LIFETIME}
            signed = (moment + RESIGN_AFTER, dict(self._vapid.sign(claims)))
            self._signed[audience] = signed
            while len(self._signed) > MAX_AUDIENCES:  # endpoints are user-supplied URLs
                self._signed.popitem(last=False)
        self._signed.move_to_end(audience)
        return signed[1]

    async def _push(self, alert: Alert, subscription: PushSubscription) -> None:
        info = {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
        try:
            body = WebPusher(info).encode(push_payload(alert), "aes128gcm")["body"]
        except (WebPushException, ValueError) as error:
            raise PermanentDeliveryError(f"cannot encrypt for this subscription: {error}") from None
        headers = {
            **self.vapid_headers(subscription.endpoint),
            "TTL": str(TTL[alert.severity]),
            "Urgency": "low" if alert.resolved else URGENCY[alert.severity],
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        try:
            await self.request("POST", subscription.endpoint, content=body, headers=headers)
        except PermanentDeliveryError as error:
            if error.code in GONE:
                await self.store.remove(subscription.endpoint)
            raise

    async def send(self, alert: Alert) -> Receipt:
        """Push to every subscription; a retry skips those already served."""
        subscriptions = {s.endpoint: s for s in await self.store.subscriptions()}
        if not subscriptions:
            raise PermanentDeliveryError("no browser has subscribed to notifications yet")

        async def push(endpoint: str) -> str | None:
            await self._push(alert, subscriptions[endpoint])
            return None

        return await self._fan_out.send(alert, list(subscriptions), push, label=origin)
