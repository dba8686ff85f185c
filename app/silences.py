"""Silences: matchers as Alertmanager writes them, and the silence an arriving alert falls
under.

A matcher compares one label: ``{"name": "severity", "value": "info"}`` for equality,
``"regex": true`` for a regular expression that must match the whole value (RE2 syntax, as
Alertmanager's; RE2 runs in linear time, so no pattern can stall a request), ``"equal":
false`` to negate either. A label the alert lacks compares as the empty string. Besides its
labels, an alert's ``severity`` and ``dedup_key`` can be matched as if they were labels.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import re2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Silence

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is the client's error, answered, not logged


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    """``pattern`` compiled to match whole values; ValueError naming the problem if bad."""
    try:
        return re2.compile(f"(?:{pattern})", _OPTIONS)
    except re2.error as error:
        detail = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else ""
        raise ValueError(f"not a valid RE2 regular expression ({detail or error})") from None


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label."""

    name: str
    value: str
    regex: bool = False
    equal: bool = True

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher."""
        actual = labels.get(self.name, "")
        if self.regex:
            hit = compile_pattern(self.value).fullmatch(actual) is not None
        else:
            hit = actual == self.value
        return hit == self.equal

    @property
    def operator(self) -> str:
        """Alertmanager's notation: ``=``, ``!=``, ``=~`` or ``!~``."""
        return {(True, False): "=", (False, False): "!=", (True, True): "=~", (False, True): "!~"}[
            (self.equal, self.regex)
        ]

    def as_json(self) -> dict[str, Any]:
        """How it is stored and shown."""
        return {"name": self.name, "value": self.value, "regex": self.regex, "equal": self.equal}


def matchers_of(silence: Silence) -> list[Matcher]:
    """A stored silence's matchers."""
    return [Matcher(**matcher) for matcher in silence.matchers]


def matchable(labels: Mapping[str, str], severity: str, dedup_key: str | None) -> dict[str, str]:
    """What matchers see of an alert: its labels, with severity and dedup_key added."""
    return {**labels, "severity": severity, "dedup_key": dedup_key or ""}


async def active_silences(session: AsyncSession, now: datetime) -> list[Silence]:
    """The silences active at ``now``, oldest first."""
    active = select(Silence).where(Silence.ends_at > now, Silence.starts_at <= now)
    return list(await session.scalars(active.order_by(Silence.id)))


def silence_among(silences: Sequence[Silence], labels: Mapping[str, str]) -> Silence | None:
    """The first of ``silences`` whose every matcher ``labels`` satisfy."""
    for silence in silences:
        if all(matcher.matches(labels) for matcher in matchers_of(silence)):
            return silence
    return None


async def create_silence(
    session: AsyncSession,
    *,
    matchers: Sequence[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    comment: str,
    created_by: str,
) -> Silence:
    """Store a silence; commit."""
    silence = Silence(
        matchers=[matcher.as_json() for matcher in matchers],
        starts_at=starts_at,
        ends_at=ends_at,
        comment=comment,
        created_by=created_by,
    )
    session.add(silence)
    await session.commit()
    return silence


async def expire_silence(session: AsyncSession, silence_id: int, now: datetime) -> Silence | None:
    """End the silence at ``now`` (one that had not started ends before it starts; one that
    has ended stays as it was); commit. None when there is no such silence."""
    silence = await session.get(Silence, silence_id)
    if silence is None:
        return None
    if silence.ends_at > now:
        silence.starts_at, silence.ends_at = min(silence.starts_at, now), now
        await session.commit()
    return silence


async def all_silences(session: AsyncSession, limit: int = 500) -> list[Silence]:
    """The most recent silences, those that end last first."""
    statement = select(Silence).order_by(Silence.ends_at.desc(), Silence.id.desc()).limit(limit)
    return list(await session.scalars(statement))
