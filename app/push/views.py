"""The routes browsers use for Web Push (``/api/push``): the key to subscribe with, and
storing and forgetting subscriptions. A bearer token or the dashboard's session opens them."""

from __future__ import annotations

from quart import abort, current_app, g, url_for
from quart.typing import ResponseReturnValue
from quart_schema import validate_request, validate_response

from app.api import json_api_blueprint
from app.db import db_session
from app.openapi import document_errors, document_headers, location
from app.push.store import delete_subscription, save_subscription
from app.schemas import SubscriptionIn, SubscriptionOut, VapidKeyOut
from channels.webpush import PushSubscription, WebPushChannel

# the dashboard's own script calls these with the session cookie (and the CSRF header)
bp = json_api_blueprint("push", __name__, "/api/push", allow_session=True)


def webpush_channel() -> WebPushChannel:
    """The configured webpush channel; 404 when there is none."""
    channel: WebPushChannel | None = current_app.extensions["herald.webpush"]
    if channel is None:
        abort(
            404, "Web Push is not configured on this Herald (add channels.webpush.WebPushChannel)."
        )
    return channel


@bp.get("/vapid-public-key")
@validate_response(VapidKeyOut)
@document_errors(404)
async def vapid_public_key() -> ResponseReturnValue:
    """The application server key a browser subscribes with."""
    return {"public_key": webpush_channel().public_key}


@bp.post("/subscriptions")
@validate_request(SubscriptionIn)
@validate_response(SubscriptionOut, 201)
@document_errors(400, 404, 413, 415, 422)
@document_headers(responses={201: location("subscription")})
async def add_push_subscription(data: SubscriptionIn) -> ResponseReturnValue:
    """Store (or refresh) the current user's subscription; 201 with its id."""
    webpush_channel()
    subscription = PushSubscription(data.endpoint, data.keys.p256dh, data.keys.auth)
    record = await save_subscription(db_session(), g.user.id, subscription)
    location = url_for("push.delete_push_subscription", subscription_id=record.id)
    return {"id": record.id, "endpoint": record.endpoint}, 201, {"Location": location}


@bp.delete("/subscriptions/<id:subscription_id>")
@document_errors(404)
async def delete_push_subscription(subscription_id: int) -> ResponseReturnValue:
    """Forget one of the current user's subscriptions (administrators: anyone's)."""
    if not await delete_subscription(db_session(), g.user, subscription_id):
        abort(404, f"There is no push subscription {subscription_id}.")
    return "", 204
