"""Web Push subscriptions: browsers register here, the webpush channel sends to them."""

from __future__ import annotations

from quart import abort, g, url_for
from quart.typing import ResponseReturnValue
from quart_schema import validate_request, validate_response

from app.api import bp
from app.channelset import get_channels
from app.db import db_session
from app.models import PushSubscriptionRecord
from app.openapi import document_errors, document_headers, location
from app.push import save_subscription
from app.schemas import SubscriptionIn, SubscriptionOut, VapidKeyOut
from channels.base import PushSubscription
from channels.webpush import WebPushChannel


def webpush_channel() -> WebPushChannel:
    """The configured webpush channel; 404 when there is none."""
    for channel in get_channels().values():
        if isinstance(channel, WebPushChannel):
            return channel
    abort(404, "Web Push is not configured on this Herald (add channels.webpush.WebPushChannel).")


@bp.get("/push/vapid-public-key")
@validate_response(VapidKeyOut)
@document_errors(404)
async def vapid_public_key() -> ResponseReturnValue:
    """The application server key a browser subscribes with."""
    return {"public_key": webpush_channel().public_key}


@bp.post("/push/subscriptions")
@validate_request(SubscriptionIn)
@validate_response(SubscriptionOut, 201)
@document_errors(400, 404, 413, 415, 422)
@document_headers(responses={201: location("subscription")})
async def add_push_subscription(data: SubscriptionIn) -> ResponseReturnValue:
    """Store (or refresh) the current user's subscription; 201 with its id."""
    webpush_channel()
    subscription = PushSubscription(data.endpoint, data.keys.p256dh, data.keys.auth)
    record = await save_subscription(db_session(), g.user.id, subscription)
    location = url_for("api.delete_push_subscription", subscription_id=record.id)
    return {"id": record.id, "endpoint": record.endpoint}, 201, {"Location": location}


@bp.delete("/push/subscriptions/<id:subscription_id>")
@document_errors(404)
async def delete_push_subscription(subscription_id: int) -> ResponseReturnValue:
    """Forget one of the current user's subscriptions (administrators: anyone's)."""
    session = db_session()
    record = await session.get(PushSubscriptionRecord, subscription_id)
    if record is None or (record.user_id != g.user.id and not g.user.is_admin):
        abort(404, f"There is no push subscription {subscription_id}.")
    await session.delete(record)
    await session.commit()
    return "", 204
