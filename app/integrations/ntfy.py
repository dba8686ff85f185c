"""ntfy's publish (``POST`` or ``PUT /ntfy/<topic>``): the message is the body, ``Title``,
``Priority`` and ``Tags`` headers (with their ``X-`` and short aliases) say the rest, so
``curl -d "disk full" -H "Authorization: Bearer $TOKEN" herald/ntfy/ops`` raises an alert.
The topic and tags become labels; priority 1 to 3 is info, 4 warning, 5 critical. Answers are
ntfy's: the message as JSON, or ``{"code": ..., "http": ..., "error": ...}``.
"""

from __future__ import annotations

import re
from email.header import decode_header, make_header

from quart import Blueprint, g, jsonify, request
from quart.typing import ResponseReturnValue
from quart_rate_limiter import limit_blueprint
from werkzeug.exceptions import BadRequest, HTTPException

from app import errors
from app.alerts import channels_for
from app.api import token_user
from app.auth import bearer_user
from app.channelset import get_channels
from app.db import db_session
from app.dispatch import get_dispatcher
from app.integrations.fit import fitted_labels, fitted_message, fitted_title
from app.lifecycle import Trigger, get_policy, trigger
from app.ratelimit import API_LIMITS

bp = Blueprint("ntfy", __name__, url_prefix="/ntfy")
limit_blueprint(bp, limits=API_LIMITS)

TOPIC = re.compile(r"[-_A-Za-z0-9]{1,64}")  # as ntfy allows topics
PRIORITIES = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "min": 1, "low": 2, "default": 3}
PRIORITIES |= {"high": 4, "urgent": 5, "max": 5}
SEVERITIES = {1: "info", 2: "info", 3: "info", 4: "warning", 5: "critical"}
ALIASES = {
    "title": ("X-Title", "Title", "ti", "t"),
    "priority": ("X-Priority", "Priority", "prio", "p"),
    "tags": ("X-Tags", "Tags", "Tag", "ta"),
}


async def answer(error: HTTPException, message: str | None = None) -> ResponseReturnValue:
    """Errors in ntfy's shape: ``{"code": 40001, "http": 400, "error": "..."}``."""
    status = error.code or 500
    body = {"code": status * 100 + 1, "http": status, "error": message or error.description}
    return jsonify(body), status, errors.passed_headers(error)


errors.register(bp, answer)


def header(name: str) -> str:
    """The first of the header's aliases that is set, decoded if RFC 2047 encoded."""
    for alias in ALIASES[name]:
        value = request.headers.get(alias)
        if value:
            try:
                return str(make_header(decode_header(value)))
            except (ValueError, LookupError, UnicodeDecodeError):
                return value
    return ""


def priority() -> int:
    """1 to 5 from the Priority header (3 without one); 400 for anything else."""
    value = header("priority").strip().lower() or "3"
    if value not in PRIORITIES:
        raise BadRequest("invalid priority: use 1-5 or min, low, default, high, urgent, max")
    return PRIORITIES[value]


@bp.before_request
async def require_token() -> None:
    """A Herald API token as ``Authorization: Bearer``."""
    g.user = await token_user(bearer_user)


@bp.route("/<topic>", methods=["POST", "PUT"])
async def publish(topic: str) -> ResponseReturnValue:
    """Raise an alert from a published message; answer with ntfy's message JSON."""
    if not TOPIC.fullmatch(topic):
        raise BadRequest("invalid topic: 1 to 64 letters, digits, - and _")
    data = await request.get_data(as_text=False)
    assert isinstance(data, bytes)
    try:
        body = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the message must be UTF-8 text") from None
    level = priority()
    title = fitted_title(header("title"))
    tags = [tag.strip() for tag in header("tags").split(",") if tag.strip()]
    severity = SEVERITIES[level]
    labels = {"topic": topic, **({"tags": ",".join(tags)} if tags else {})}
    report = Trigger(
        message=fitted_message(body, title or "triggered"),
        title=title,
        severity=severity,
        channels=channels_for(get_channels(), severity),
        source="ntfy",
        labels=fitted_labels(labels),
        created_by_id=g.user.id,
    )
    record, _ = await trigger(db_session(), report, get_policy())
    get_dispatcher().notify()
    message = {
        "id": record.uid,
        "time": int(record.created_at.timestamp()),
        "event": "message",
        "topic": topic,
        "message": record.message,
        "priority": level,
    }
    if title:
        message["title"] = title
    if tags:
        message["tags"] = tags
    return message
