"""What an alert submission must look like, for the API and the dashboard form alike."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from app.ids import MAX_ID
from app.silences import compile_pattern
from channels.base import LINE_BREAKING

# Spelled out rather than \S, whose meaning differs between Python and JSON Schema's regexes.
# No text field may hold NUL: PostgreSQL cannot store it (tests/api/test_schemas.py holds
# every string of every request model to that).
# (Blanks, then the first other character, then the rest: no backtracking to speak of.)
NON_BLANK = r"^[ \t\n\r\x0b\x0c]*[^\x00 \t\n\r\x0b\x0c][^\x00]*$"
ONE_LINE = f"^[^{LINE_BREAKING}]*$"  # no control characters, no Unicode line breaks
MAX_MESSAGE = 4000
MAX_TITLE = 200
MAX_DEDUP_KEY = 255
MAX_LABELS = 64
MAX_LABEL_VALUE = 1024
MAX_MATCHERS = 32
LABEL_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"  # as Prometheus names labels


def documented_pattern(pattern: str) -> Any:
    """A pattern for the OpenAPI document only (the validator beside it does the judging, so
    that errors read as sentences rather than regular expressions)."""
    return Field(json_schema_extra={"pattern": pattern})


def matching(pattern: str, problem: str) -> tuple[Any, AfterValidator]:
    """Document ``pattern`` in OpenAPI and refuse, with ``problem``, what does not match it:
    the contract and the validation can then never disagree."""
    # JSON Schema's "$" is the very end; Python's also matches before a final newline.
    compiled = re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)

    def check(value: str) -> str:
        if not compiled.search(value):
            raise ValueError(problem)
        return value

    return documented_pattern(pattern), AfterValidator(check)


Message = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_MESSAGE),
    *matching(NON_BLANK, "must not be blank nor hold NUL characters"),
]
Title = Annotated[
    str,
    StringConstraints(max_length=MAX_TITLE),
    *matching(ONE_LINE, "must be one line without control characters or line breaks"),
]
ChannelName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    *matching(r"^[^\x00-\x1f\x7f]+$", "must not hold control characters"),
]


DedupKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_DEDUP_KEY),
    *matching(f"^[^{LINE_BREAKING}]+$", "must be printable: no control characters or line breaks"),
]
LabelName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128),
    *matching(LABEL_NAME, "must be a label name: letters, digits and _, not starting with a digit"),
]
LabelValue = Annotated[
    str,
    StringConstraints(max_length=MAX_LABEL_VALUE),
    *matching(ONE_LINE, "must be one line without control characters or line breaks"),
]
Labels = Annotated[dict[LabelName, LabelValue], Field(max_length=MAX_LABELS)]


class AlertIn(BaseModel):
    """A request to send an alert; a ``dedup_key`` that an open alert carries counts as
    that alert seen again."""

    model_config = ConfigDict(extra="forbid", strict=True)

    message: Message
    title: Title = ""
    severity: Literal["info", "warning", "critical"] = "info"
    channels: list[ChannelName] | None = Field(default=None, min_length=1)
    dedup_key: DedupKey | None = None
    labels: Labels = Field(default_factory=dict)


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


P256DH = matching(
    r"^B[A-P][A-Za-z0-9_-]{85}$", "must be an uncompressed P-256 public key (65 bytes, base64url)"
)
AUTH_SECRET = matching(r"^[A-Za-z0-9_-]{22}$", "must be 16 bytes, base64url")
PUSH_ENDPOINT = matching(
    r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s\x00]*)?$", "must be an http(s) URL"
)


class SubscriptionKeys(BaseModel):
    """``PushSubscription.toJSON().keys``."""

    p256dh: Annotated[str, *P256DH]
    auth: Annotated[str, *AUTH_SECRET]


class SubscriptionIn(BaseModel):
    """A browser's ``PushSubscription.toJSON()``; ``expirationTime`` and the like are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)

    endpoint: Annotated[str, StringConstraints(max_length=2048), *PUSH_ENDPOINT]
    keys: SubscriptionKeys


# Times are ISO 8601 text in UTC; documented as RFC 3339 date-times.
DateTimeText = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class DeliveryOut(BaseModel):
    """One notification of an alert on one channel: ``firing`` (the first), ``repeat-N``,
    ``resolved``."""

    channel: str
    notification: str
    status: Literal["pending", "sending", "retrying", "sent", "failed"]
    attempts: int
    error: str | None
    latency_ms: float | None
    finished_at: DateTimeText | None
    next_attempt_at: DateTimeText | None
    provider_ref: str | None
    detail: str | None


class LinkOut(BaseModel):
    """A link a source gave with the alert (its graph, its dashboard, its silence page)."""

    href: str
    text: str


class AlertOut(BaseModel):
    """An alert, its life so far, and its deliveries."""

    id: int
    uid: str
    title: str
    message: str
    severity: Literal["info", "warning", "critical"]
    status: Literal["pending", "sending", "sent", "failed", "partial", "silenced"]
    state: Literal["firing", "acknowledged", "resolved"]
    dedup_key: str | None
    labels: dict[str, str]
    links: list[LinkOut]
    occurrences: int
    created_at: DateTimeText
    last_seen_at: DateTimeText
    acknowledged_by: str | None
    acknowledged_at: DateTimeText | None
    resolved_at: DateTimeText | None
    silenced: bool
    silence_id: int | None
    url: str
    deliveries: list[DeliveryOut]


class AlertPage(BaseModel):
    """Alerts newest first; ``next_before`` fetches the next page."""

    alerts: list[AlertOut]
    next_before: int | None


class AlertQuery(BaseModel):
    """Paging through alerts."""

    limit: int = Field(default=50, ge=1, le=200)
    before: int | None = Field(default=None, ge=1, le=MAX_ID)


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


class MatcherIn(BaseModel):
    """One condition of a silence, as Alertmanager writes it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: LabelName
    value: Annotated[
        str,
        StringConstraints(max_length=MAX_LABEL_VALUE),
        *matching(ONE_LINE, "must be one line without control characters or line breaks"),
    ]
    regex: bool = False
    equal: bool = True

    @model_validator(mode="after")
    def _pattern_compiles(self) -> MatcherIn:
        if self.regex:
            compile_pattern(self.value)  # ValueError names the problem
        return self


class SilenceIn(BaseModel):
    """Keep alerts that match every matcher quiet from ``starts_at`` (default: now) until
    ``ends_at``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    matchers: list[MatcherIn] = Field(min_length=1, max_length=MAX_MATCHERS)
    starts_at: Annotated[AwareDatetime, Field(strict=False)] | None = None
    ends_at: Annotated[AwareDatetime, Field(strict=False)]
    comment: Annotated[
        str,
        StringConstraints(max_length=1000),
        *matching(r"^[^\x00]*$", "must not hold NUL characters"),
    ] = ""


class SilenceOut(BaseModel):
    """A silence and whether it holds now."""

    id: int
    matchers: list[MatcherIn]
    starts_at: DateTimeText
    ends_at: DateTimeText
    comment: str
    created_by: str
    created_at: DateTimeText
    state: Literal["pending", "active", "expired"]


class SilenceList(BaseModel):
    """Silences, those that end last first."""

    silences: list[SilenceOut]
