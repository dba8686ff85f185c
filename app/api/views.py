"""JSON API routes."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError
from quart import abort, g, jsonify, request, url_for
from quart.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from app import idempotency
from app.alerts import (
    UnknownChannelError,
    alert_json,
    get_alert,
    recent_alerts,
    record_alert,
)
from app.api import bp
from app.db import db_session
from app.dispatch import get_dispatcher
from app.errors import InvalidInput
from app.models import IdempotencyKey
from app.schemas import AlertIn, field_errors

MAX_WAIT_SECONDS = 30
DEFAULT_PAGE, MAX_PAGE = 50, 200
PREFER_WAIT = re.compile(r"(?:^|[,;])\s*wait\s*=\s*(\d+)\s*(?:$|[,;])", re.IGNORECASE)


async def read_json() -> Any:
    """The request body parsed as JSON; 415 for another media type, 400 when malformed."""
    if not request.is_json:
        abort(415, "Send the body as JSON with 'Content-Type: application/json'.")
    body = await request.get_data(as_text=False)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        abort(400, f"The body is not valid JSON: {error}")


def prefer_wait() -> int | None:
    """Seconds asked for with ``Prefer: wait=N`` (RFC 7240), capped at 30; None if absent."""
    match = PREFER_WAIT.search(request.headers.get("Prefer", ""))
    return min(int(match.group(1)), MAX_WAIT_SECONDS) if match else None


def int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    """A whole-number query argument within ``low..high``; 422 naming it otherwise."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        problem = f"must be a whole number from {low} to {high}"
        raise InvalidInput(f"Query argument '{name}' {problem}.", {name: problem})
    return int(raw)


def parse_alert(data: Any) -> tuple[AlertIn, list[str]]:
    """The validated request and the channels it goes to; 422 naming what is wrong."""
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.", {"body": "must be a JSON object"})
    try:
        payload = AlertIn.model_validate(data)
        return payload, get_dispatcher().channels_for(payload.severity, payload.channels)
    except ValidationError as error:
        fields = field_errors(error)
        raise InvalidInput("Some fields are invalid: " + ", ".join(fields) + ".", fields) from None
    except UnknownChannelError as error:
        raise InvalidInput(f"{str(error).capitalize()}.", {"channels": str(error)}) from None


async def store_alert(
    payload: AlertIn, channels: list[str], key: str | None, digest: str
) -> tuple[int, bool]:
    """Commit the alert (and its idempotency key); return its id and True, or the id of the
    alert a concurrent request with the same key made first and False."""
    session = db_session()
    user_id = g.user.id  # read now: a rollback below expires the user object
    record = await record_alert(
        session,
        message=payload.message,
        title=payload.title,
        severity=payload.severity,
        channels=channels,
        source="api",
        created_by_id=user_id,
        commit=key is None,
    )
    if key is None:
        return record.id, True
    session.add(IdempotencyKey(user_id=user_id, key=key, request_hash=digest, alert_id=record.id))
    try:
        await session.commit()
    except IntegrityError:  # a concurrent request with the same key committed first
        await session.rollback()
        existing = await idempotency.find(session, user_id, key)
        if existing is None:
            raise
        idempotency.check_same_body(existing, digest)
        return existing.alert_id, False
    return record.id, True


@bp.post("/alerts")
async def create_alert() -> ResponseReturnValue:
    """Record an alert and send it; 202 at once, or 200 after ``Prefer: wait=N`` if done.

    With an ``Idempotency-Key`` seen in the last 24 h and the same body, answer 200 with the
    alert that key created and send nothing again.
    """
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    data = await read_json()
    payload, channels = parse_alert(data)
    digest = idempotency.body_digest(data)
    session = db_session()
    existing = await idempotency.find(session, g.user.id, key) if key else None
    if existing is not None:
        idempotency.check_same_body(existing, digest)
        alert_id, created = existing.alert_id, False
    else:
        alert_id, created = await store_alert(payload, channels, key, digest)
    if created:
        get_dispatcher().notify()
    status = 202 if created else 200
    headers = {"Location": url_for("api.read_alert", alert_id=alert_id)}
    wait = prefer_wait()
    if wait is not None:
        if await get_dispatcher().wait_for_alert(alert_id, wait):
            status = 200
        headers["Preference-Applied"] = f"wait={wait}"
    record = await get_alert(session, alert_id)
    if record is None:  # purged in the meantime
        abort(404, f"There is no alert {alert_id}.")
    return alert_json(record), status, headers


@bp.get("/alerts/<int:alert_id>")
async def read_alert(alert_id: int) -> ResponseReturnValue:
    """One alert with its deliveries."""
    record = await get_alert(db_session(), alert_id)
    if record is None:
        abort(404, f"There is no alert {alert_id}.")
    return alert_json(record)


@bp.get("/alerts")
async def list_alerts() -> ResponseReturnValue:
    """Alerts newest first; page on with ``before=<next_before>``."""
    limit = int_arg("limit", DEFAULT_PAGE, 1, MAX_PAGE) or DEFAULT_PAGE
    before = int_arg("before", None, 1, 2**62)
    records = await recent_alerts(db_session(), limit=limit, before=before)
    next_before = records[-1].id if len(records) == limit else None
    return {"alerts": [alert_json(r) for r in records], "next_before": next_before}


@bp.get("/channels")
async def list_channels() -> ResponseReturnValue:
    """The configured channels."""
    channels = get_dispatcher().channels
    return jsonify(
        channels=[
            {"name": name, "class": f"{type(ch).__module__}.{type(ch).__qualname__}"}
            for name, ch in channels.items()
        ]
    )
