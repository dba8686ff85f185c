"""JSON API routes."""

from __future__ import annotations

import re

from quart import abort, g, request, url_for
from quart.typing import ResponseReturnValue
from quart_schema import (
    validate_querystring,
    validate_request,
    validate_response,
)
from werkzeug.datastructures import Headers

from app import idempotency
from app.alerts import (
    UnknownChannelError,
    alert_json,
    channels_for,
    get_alert,
    recent_alerts,
)
from app.api import bp
from app.channelset import get_channels
from app.db import db_session
from app.dispatch import get_dispatcher
from app.errors import InvalidInput
from app.lifecycle import AlertResolvedError, Trigger, acknowledge, get_policy, resolve
from app.openapi import Header, document_errors, document_headers, location
from app.schemas import AlertIn, AlertOut, AlertPage, AlertQuery, ChannelList
from app.writer import get_writer

MAX_WAIT_SECONDS = 30
PREFER_WAIT = re.compile(r"(?:^|[,;])\s*wait\s*=\s*(\d+)\s*(?:$|[,;])", re.IGNORECASE)


def prefer_wait() -> int | None:
    """Seconds asked for with ``Prefer: wait=N`` (RFC 7240), capped at 30; None if absent."""
    match = PREFER_WAIT.search(request.headers.get("Prefer", ""))
    return min(int(match.group(1)), MAX_WAIT_SECONDS) if match else None


def alert_channels(payload: AlertIn) -> list[str]:
    """The channels the alert goes to; 422 listing the configured ones for unknown names."""
    try:
        return channels_for(get_channels(), payload.severity, payload.channels)
    except UnknownChannelError as error:
        raise InvalidInput(f"{str(error).capitalize()}.", {"channels": str(error)}) from None


CREATED_ALERT_HEADERS: dict[str, Header] = {
    **location("alert"),
    "Preference-Applied": {
        "description": "`wait=N` when the request asked to wait.",
        "schema": {"type": "string"},
    },
}


@bp.post("/alerts")
@validate_request(AlertIn)
@validate_response(AlertOut, 200)
@validate_response(AlertOut, 202)
@document_errors(400, 413, 415, 422)
@document_headers(
    request={
        idempotency.HEADER: {
            "description": "Any 1 to 255 visible ASCII characters; a repeat within 24 h with "
            "the same body answers 200 with the alert it made and sends nothing again.",
            "required": False,
            "schema": {"type": "string", "pattern": f"^{idempotency.VALID_KEY.pattern}$"},
        },
        "Prefer": {
            "description": "`wait=N` (N up to 30): answer once every delivery is finished, "
            "or after N seconds.",
            "required": False,
            "schema": {"type": "string", "example": "wait=10"},
        },
    },
    responses={200: CREATED_ALERT_HEADERS, 202: CREATED_ALERT_HEADERS},
)
async def create_alert(data: AlertIn) -> ResponseReturnValue:
    """Record an alert and send it; 202 at once, or 200 after ``Prefer: wait=N`` if done.

    A ``dedup_key`` that an open alert carries counts as that alert seen again: 200 with it,
    sending nothing (unless a repeat is due). With an ``Idempotency-Key`` seen in the last
    24 h and the same body, answer 200 with the alert that key created and send nothing again.
    """
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    report = Trigger(
        message=data.message,
        title=data.title,
        severity=data.severity,
        channels=alert_channels(data),
        dedup_key=data.dedup_key,
        labels=data.labels,
        source="api",
        created_by_id=g.user.id,
    )
    digest = idempotency.body_digest(await request.get_json())
    record, created = await get_writer().record(report, key=key, digest=digest)
    if record is None:  # the alert of a replayed key was purged meanwhile
        abort(404, "The alert this Idempotency-Key made is no longer kept.")
    get_dispatcher().notify()  # a new alert, or a repeat of one seen again
    status = 202 if created else 200
    # Headers, not a dict: quart-schema builds a pydantic TypeAdapter for a dict per response
    headers = Headers({"Location": url_for("api.read_alert", alert_id=record.id)})
    wait = prefer_wait()
    if wait is not None:
        if await get_dispatcher().wait_for_alert(record.id, wait):
            status = 200
        headers["Preference-Applied"] = f"wait={wait}"
        record = await get_alert(db_session(), record.id) or record
    # answered from what was just committed: no second read on the common path
    return alert_json(record), status, headers


@bp.get("/alerts/<id:alert_id>")
@validate_response(AlertOut)
@document_errors(404)
async def read_alert(alert_id: int) -> ResponseReturnValue:
    """One alert with its deliveries."""
    record = await get_alert(db_session(), alert_id)
    if record is None:
        abort(404, f"There is no alert {alert_id}.")
    return alert_json(record)


@bp.post("/alerts/<id:alert_id>/acknowledge")
@validate_response(AlertOut)
@document_errors(404, 409)
async def acknowledge_alert(alert_id: int) -> ResponseReturnValue:
    """Acknowledge a firing alert: no more repeats; who and when are kept. 409 once it is
    resolved."""
    try:
        record = await acknowledge(db_session(), alert_id, by=g.user.username)
    except AlertResolvedError as error:
        abort(409, str(error))
    if record is None:
        abort(404, f"There is no alert {alert_id}.")
    return alert_json(record)


@bp.post("/alerts/<id:alert_id>/resolve")
@validate_response(AlertOut)
@document_errors(404)
async def resolve_alert(alert_id: int) -> ResponseReturnValue:
    """Resolve the alert; the channels that were told it fires are told it is resolved."""
    record = await resolve(db_session(), alert_id, get_policy())
    if record is None:
        abort(404, f"There is no alert {alert_id}.")
    get_dispatcher().notify()
    return alert_json(record)


@bp.get("/alerts")
@validate_querystring(AlertQuery)
@validate_response(AlertPage)
@document_errors(422)
async def list_alerts(query_args: AlertQuery) -> ResponseReturnValue:
    """Alerts newest first; page on with ``before=<next_before>``."""
    limit = query_args.limit
    records = await recent_alerts(db_session(), limit=limit, before=query_args.before)
    next_before = records[-1].id if len(records) == limit else None
    return {"alerts": [alert_json(r) for r in records], "next_before": next_before}


@bp.get("/channels")
@validate_response(ChannelList)
@document_errors()
async def list_channels() -> ResponseReturnValue:
    """The configured channels."""
    channels = get_channels()
    return {"channels": [{"name": name, "class": channels.class_path(name)} for name in channels]}
