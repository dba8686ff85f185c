"""Web Push: a channel that outgrew its file. The package owns its protocol (VAPID keys in
``keys``, the subscription store it sends to in ``subscriptions``); the app keeps the
subscriptions and registers the routes browsers use (``app/push/``)."""

from channels.webpush.channel import WebPushChannel, push_payload
from channels.webpush.keys import load_private_key, new_vapid_keys, public_key_b64
from channels.webpush.subscriptions import PushSubscription, PushSubscriptionStore

__all__ = [
    "PushSubscription",
    "PushSubscriptionStore",
    "WebPushChannel",
    "load_private_key",
    "new_vapid_keys",
    "public_key_b64",
    "push_payload",
]
