"""PagerDuty's Events API v2 (``POST /v2/enqueue``), so that anything that can page
PagerDuty at a configurable URL (Alertmanager's ``pagerduty_configs``, Grafana, Zabbix,
Uptime Kuma) can page through Herald. The ``routing_key`` is a Herald API token.

``trigger`` fires (the ``dedup_key`` is made and returned when the event has none),
``acknowledge`` and ``resolve`` act on the open alert with the event's ``dedup_key``.
Answers are PagerDuty's: 202 ``{"status": "success", "message": "Event processed",
"dedup_key": ...}``, 400 ``{"status": "invalid event", "message": ..., "errors": [...]}``.
"""

from __future__ import annotations

import json
import uuid
from contextlib import suppress
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from quart import Blueprint, g, jsonify, request
from quart.typing import ResponseReturnValue
from quart_rate_limiter import limit_blueprint
from werkzeug.exceptions import BadRequest, HTTPException

from app import errors
from app.alerts import channels_for
from app.api import token_user
from app.auth import user_for_token
from app.channelset import get_channels
from app.db import db_session
from app.dispatch import get_dispatcher
from app.integrations.fit import fitted_labels, fitted_message, fitted_title, web_links
from app.lifecycle import (
    AlertResolvedError,
    Trigger,
    acknowledge,
    get_policy,
    open_alert_id,
    resolve,
    trigger,
)
from app.ratelimit import API_LIMITS
from app.schemas import field_errors

bp = Blueprint("pagerduty", __name__, url_prefix="/v2")
limit_blueprint(bp, limits=API_LIMITS)
SEVERITIES = {"critical": "critical", "error": "critical", "warning": "warning", "info": "info"}


class EventPayload(BaseModel):
    """``payload`` of a trigger event."""

    model_config = ConfigDict(extra="ignore")

    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: Any = None


class EventLink(BaseModel):
    """One of ``links``."""

    model_config = ConfigDict(extra="ignore")

    href: str
    text: str = ""


class Event(BaseModel):
    """An Events API v2 event."""

    model_config = ConfigDict(extra="ignore")

    routing_key: str = Field(min_length=1, max_length=255)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255)
    payload: EventPayload | None = None
    links: list[EventLink] = Field(default_factory=list, max_length=50)


async def answer(error: HTTPException, message: str | None = None) -> ResponseReturnValue:
    """Errors in PagerDuty's shape."""
    status = error.code or 500
    problems = getattr(error, "problems", None) or [message or error.description or error.name]
    kind = {400: "invalid event", 429: "throttle event"}.get(status, error.name.lower())
    body = {"status": kind, "message": message or error.description, "errors": problems}
    return jsonify(body), status, errors.passed_headers(error)


errors.register(bp, answer)


class InvalidEvent(BadRequest):
    """400 with PagerDuty's list of problems."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Event object is invalid")
        self.problems = problems


async def read_event() -> Event:
    """The event in the body, and ``g.user`` from its routing key."""
    body = await request.get_data(as_text=False)
    try:
        data = json.loads(body)
        event = Event.model_validate(data)
    except (ValueError, RecursionError) as error:
        if isinstance(error, ValidationError):
            raise InvalidEvent([f"{k}: {v}" for k, v in field_errors(error).items()]) from None
        raise InvalidEvent(["The body is not valid JSON."]) from None
    g.user = await token_user(
        lambda: user_for_token(db_session(), event.routing_key),
        "routing_key: not a valid Herald API token",
    )
    return event


def as_trigger(event: Event, payload: EventPayload, key: str) -> Trigger:
    """The Herald alert a trigger event fires."""
    details = payload.custom_details
    extra = "" if details is None else "\n\n" + json.dumps(details, indent=2, ensure_ascii=False)
    labels = {"source": payload.source, "component": payload.component, "group": payload.group}
    labels["class"] = payload.class_
    severity = SEVERITIES[payload.severity]
    return Trigger(
        message=fitted_message(payload.summary + extra, payload.summary),
        title=fitted_title(payload.summary),
        severity=severity,
        channels=channels_for(get_channels(), severity),
        source="pagerduty",
        dedup_key=key,
        labels=fitted_labels({k: v for k, v in labels.items() if v}),
        links=web_links((link.text, link.href) for link in event.links),
        created_by_id=g.user.id,
    )


@bp.post("/enqueue")
async def enqueue() -> ResponseReturnValue:
    """Trigger, acknowledge or resolve; 202 with the event's dedup_key."""
    event = await read_event()
    session = db_session()
    key = fitted_title(event.dedup_key) if event.dedup_key else ""
    if event.event_action == "trigger":
        if event.payload is None:
            raise InvalidEvent(["payload: a trigger event needs a payload"])
        key = key or uuid.uuid4().hex
        await trigger(session, as_trigger(event, event.payload, key), get_policy())
    elif not key:
        raise InvalidEvent([f"dedup_key: an {event.event_action} event needs the dedup_key"])
    elif (alert_id := await open_alert_id(session, key)) is not None:
        if event.event_action == "resolve":
            await resolve(session, alert_id, get_policy())
        else:
            with suppress(AlertResolvedError):  # resolved meanwhile: nothing to acknowledge
                await acknowledge(session, alert_id, by=g.user.username)
    get_dispatcher().notify()
    body = {"status": "success", "message": "Event processed", "dedup_key": key}
    return body, 202
