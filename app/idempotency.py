"""``Idempotency-Key`` for ``POST /api/alerts``: a retried request creates nothing new.

A key is remembered per user for 24 hours together with a digest of the request body. The
same key with the same body answers with the alert it created; with another body, 422. The
key row is written in the same transaction as the alert, and a unique constraint on
(user, key) makes concurrent requests with one key create one alert.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import get_alert
from app.errors import InvalidInput
from app.lifecycle import Policy, Trigger, trigger
from app.models import AlertRecord, IdempotencyKey, utcnow

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


async def record_alert_once(
    session: AsyncSession, *, key: str | None, digest: str, report: Trigger, policy: Policy
) -> tuple[AlertRecord | None, bool]:
    """:func:`app.lifecycle.trigger` unless ``key`` (of the reporting user) already did:
    (the alert as committed, whether it is new). A key used before with the same body, even
    by a concurrent request, gives its alert again (None if it has been purged), not new;
    with another body, 422."""
    user_id = report.created_by_id
    existing = await find(session, user_id, key) if key and user_id is not None else None
    if existing is None:
        record, created = await trigger(session, report, policy, commit=key is None)
        if key is None or user_id is None:
            return record, created
        session.add(
            IdempotencyKey(user_id=user_id, key=key, request_hash=digest, alert_id=record.id)
        )
        try:
            await session.commit()
            return record, created
        except IntegrityError:  # a concurrent request with the same key committed first
            await session.rollback()
            existing = await find(session, user_id, key)
            if existing is None:
                raise
    check_same_body(existing, digest)
    return await get_alert(session, existing.alert_id), False


async def purge_expired(session: AsyncSession) -> int:
    """Delete keys older than their 24 hours; return how many."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - LIFETIME)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
