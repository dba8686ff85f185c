"""What an alert submission must look like, for the API and the dashboard form alike."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# Spelled out rather than \S, whose meaning differs between Python and JSON Schema's regexes.
NON_BLANK_PATTERN = r"[^ \t\n\r\x0b\x0c]"
NON_BLANK = re.compile(NON_BLANK_PATTERN)
MAX_MESSAGE = 4000
MAX_TITLE = 200


def documented_pattern(pattern: str) -> Any:
    """A pattern for the OpenAPI document only."""
    return Field(json_schema_extra={"pattern": pattern})


def _not_blank(value: str) -> str:
    if not NON_BLANK.search(value):  # the same test as the OpenAPI pattern
        raise ValueError("must not be blank")
    return value


def _single_line(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must be one line without control characters")
    return value


# The patterns repeat the validators in the OpenAPI document, so clients can check first;
# the validators, not the patterns, judge requests, so that errors read as sentences.
Message = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_MESSAGE),
    documented_pattern(NON_BLANK_PATTERN),
    AfterValidator(_not_blank),
]
Title = Annotated[
    str,
    StringConstraints(max_length=MAX_TITLE),
    documented_pattern(r"^[^\x00-\x1f\x7f]*$"),
    AfterValidator(_single_line),
]
ChannelName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class AlertIn(BaseModel):
    """A request to send an alert."""

    model_config = ConfigDict(extra="forbid", strict=True)

    message: Message
    title: Title = ""
    severity: Literal["info", "warning", "critical"] = "info"
    channels: list[ChannelName] | None = Field(default=None, min_length=1)


def field_errors(error: ValidationError) -> dict[str, str]:
    """One readable message per bad field, keyed by the field's dotted path."""
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False):
        key = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] in ("model_type", "dict_type"):
            message = "must be a JSON object"
        fields.setdefault(key, message)
    return fields


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
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("https", "http") and bool(parts.hostname) and len(value) <= 2048
    except ValueError:
        valid = False
    if not valid:
        raise ValueError("must be an http(s) URL of at most 2048 characters")
    return value


class SubscriptionKeys(BaseModel):
    """``PushSubscription.toJSON().keys``."""

    # an uncompressed P-256 point (65 bytes, first 0x04) and a 16-byte secret, base64url
    p256dh: Annotated[
        str, documented_pattern(r"^B[A-P][A-Za-z0-9_-]{85}$"), _b64url_bytes(65, first=4)
    ]
    auth: Annotated[str, documented_pattern(r"^[A-Za-z0-9_-]{22}$"), _b64url_bytes(16)]


class SubscriptionIn(BaseModel):
    """A browser's ``PushSubscription.toJSON()``; ``expirationTime`` and the like are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)

    endpoint: Annotated[
        str,
        StringConstraints(max_length=2048),
        documented_pattern(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$"),
        AfterValidator(_push_endpoint),
    ]
    keys: SubscriptionKeys


class DeliveryOut(BaseModel):
    """One channel's delivery of an alert."""

    channel: str
    status: Literal["pending", "sending", "retrying", "sent", "failed"]
    attempts: int
    error: str | None
    latency_ms: float | None
    finished_at: str | None
    next_attempt_at: str | None
    provider_ref: str | None
    detail: str | None


class AlertOut(BaseModel):
    """An alert and its deliveries."""

    id: int
    uid: str
    title: str
    message: str
    severity: Literal["info", "warning", "critical"]
    status: Literal["pending", "sending", "sent", "failed", "partial"]
    created_at: str
    deliveries: list[DeliveryOut]


class AlertPage(BaseModel):
    """Alerts newest first; ``next_before`` fetches the next page."""

    alerts: list[AlertOut]
    next_before: int | None


class AlertQuery(BaseModel):
    """Paging through alerts."""

    limit: int = Field(default=50, ge=1, le=200)
    before: int | None = Field(default=None, ge=1, le=2**62)


class ChannelOut(BaseModel):
    """A configured channel."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    name: str
    class_: str = Field(alias="class")


class ChannelList(BaseModel):
    """The configured channels."""

    channels: list[ChannelOut]


class ErrorOut(BaseModel):
    """Every error under /api has this shape; ``fields`` names each bad field."""

    error: str
    message: str
    status_code: int
    fields: dict[str, str] | None = None


class VapidKeyOut(BaseModel):
    """The application server key browsers subscribe with."""

    public_key: str


class SubscriptionOut(BaseModel):
    """A stored push subscription."""

    id: int
    endpoint: str
