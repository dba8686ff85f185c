"""What an alert submission must look like, for the API and the dashboard form alike."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
MAX_MESSAGE = 4000
MAX_TITLE = 200


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _single_line(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must be one line without control characters")
    return value


Message = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_MESSAGE), AfterValidator(_not_blank)
]
Title = Annotated[str, StringConstraints(max_length=MAX_TITLE), AfterValidator(_single_line)]
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
        fields.setdefault(key, message)
    return fields
