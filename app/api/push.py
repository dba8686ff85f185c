"""Web Push subscriptions: browsers register here, the webpush channel sends to them."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from quart import abort, g, url_for
from quart.typing import ResponseReturnValue
from sqlalchemy import select

from app.api import bp
from app.api.views import read_json
from app.db import db_session
from app.dispatch import get_dispatcher
from app.errors import InvalidInput
from app.models import PushSubscriptionRecord
from app.schemas import field_errors
from channels.webpush import WebPushChannel


def _b64url_bytes(length: int, first: int | None = None) -> AfterValidator:
    def check(value: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            raise ValueError("must be base64url") from None
        if len(raw) != length or (first is not None and raw[0] != first):
            raise ValueError(f"must decode to {length} bytes")
        return value

    return AfterValidator(check)


def _push_endpoint(value: str) -> str:
    if not value.startswith(("https://", "http://")) or len(value) > 2048:
        raise ValueError("must be an http(s) URL of at most 2048 characters")
    return value


class SubscriptionKeys(BaseModel):
    """``PushSubscription.toJSON().keys``."""

    p256dh: Annotated[str, _b64url_bytes(65, first=4)]  # an uncompressed P-256 point
    auth: Annotated[str, _b64url_bytes(16)]


class SubscriptionIn(BaseModel):
    """A browser's ``PushSubscription.toJSON()``; ``expirationTime`` and the like are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)

    endpoint: Annotated[str, AfterValidator(_push_endpoint)]
    keys: SubscriptionKeys


def webpush_channel() -> WebPushChannel:
    """The configured webpush channel; 404 when there is none."""
    for channel in get_dispatcher().channels.values():
        if isinstance(channel, WebPushChannel):
            return channel
    abort(404, "Web Push is not configured on this Herald (add channels.webpush.WebPushChannel).")


@bp.get("/push/vapid-public-key")
async def vapid_public_key() -> ResponseReturnValue:
    """The application server key a browser subscribes with."""
    return {"public_key": webpush_channel().public_key}


@bp.post("/push/subscriptions")
async def add_push_subscription() -> ResponseReturnValue:
    """Store (or refresh) the current user's subscription; 201 with its id."""
    webpush_channel()
    try:
        data = SubscriptionIn.model_validate(await read_json())
    except ValidationError as error:
        fields = field_errors(error)
        raise InvalidInput(
            "Invalid push subscription: " + ", ".join(fields) + ".", fields
        ) from None
    session = db_session()
    record = await session.scalar(
        select(PushSubscriptionRecord).where(PushSubscriptionRecord.endpoint == data.endpoint)
    )
    if record is None:
        record = PushSubscriptionRecord(endpoint=data.endpoint)
        session.add(record)
    record.user_id = g.user.id
    record.p256dh, record.auth = data.keys.p256dh, data.keys.auth
    await session.commit()
    location = url_for("api.delete_push_subscription", subscription_id=record.id)
    return {"id": record.id, "endpoint": record.endpoint}, 201, {"Location": location}


@bp.delete("/push/subscriptions/<int:subscription_id>")
async def delete_push_subscription(subscription_id: int) -> ResponseReturnValue:
    """Forget one of the current user's subscriptions (administrators: anyone's)."""
    session = db_session()
    record = await session.get(PushSubscriptionRecord, subscription_id)
    if record is None or (record.user_id != g.user.id and not g.user.is_admin):
        abort(404, f"There is no push subscription {subscription_id}.")
    await session.delete(record)
    await session.commit()
    return "", 204
