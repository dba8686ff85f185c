"""``Idempotency-Key`` for ``POST /api/alerts``: a retried request creates nothing new.

A key is remembered per user for 24 hours together with a digest of the request body. The
same key with the same body answers with the alert it created; with another body, 422. The
key row is written in the same transaction as the alert, and a unique constraint on
(user, key) makes concurrent requests with one key create one alert (``app/writer.py``
runs the loser again, and it then finds the key).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import get_alert
from app.errors import InvalidInput
from app.lifecycle import Policy, Trigger, add_trigger
from app.models import AlertRecord, IdempotencyKey, Silence, utcnow

HEADER = "Idempotency-Key"
LIFETIME = timedelta(hours=24)
VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as the IETF draft suggests


def parse_key(value: str | None) -> str | None:
    """The header's key; 400-style :class:`InvalidInput` when it is malformed."""
    if value is None:
        return None
    if not VALID_KEY.fullmatch(value):
        problem = "must be 1 to 255 visible ASCII characters"
        raise InvalidInput(f"The {HEADER} header {problem}.", {HEADER: problem})
    return value


def body_digest(body: Any) -> str:
    """A digest of the parsed JSON body that ignores key order and spacing."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find(session: AsyncSession, user_id: int, key: str) -> IdempotencyKey | None:
    """The live record for ``key``; an expired one is deleted so the key can be reused."""
    record = await session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )
    if record is not None and record.created_at < utcnow() - LIFETIME:
        await session.delete(record)
        await session.flush()
        return None
    return record


def check_same_body(record: IdempotencyKey, digest: str) -> None:
    """422 when a key comes back with a different body."""
    if record.request_hash != digest:
        problem = "was already used with a different request body"
        raise InvalidInput(f"This {HEADER} {problem}.", {HEADER: problem})


async def add_alert_once(
    session: AsyncSession,
    report: Trigger,
    policy: Policy,
    now: datetime,
    *,
    key: str | None,
    digest: str,
    silences: Sequence[Silence] | None = None,
) -> tuple[AlertRecord | None, bool]:
    """:func:`app.lifecycle.add_trigger` unless ``key`` (of the reporting user) already did,
    inside the caller's transaction: (the alert, whether it is new). A key used before with
    the same body gives its alert again (None if it has been purged), not new; with another
    body, 422. The key row is flushed, so a later request in the transaction sees it."""
    user_id = report.created_by_id
    if key is None or user_id is None:
        return await add_trigger(session, report, policy, now, silences)
    existing = await find(session, user_id, key)
    if existing is not None:
        check_same_body(existing, digest)
        return await get_alert(session, existing.alert_id), False
    record, created = await add_trigger(session, report, policy, now, silences)
    await session.flush()  # the alert's id, for the key's row
    session.add(IdempotencyKey(user_id=user_id, key=key, request_hash=digest, alert_id=record.id))
    await session.flush()
    return record, created


async def purge_expired(session: AsyncSession) -> int:
    """Delete keys older than their 24 hours; return how many."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - LIFETIME)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
