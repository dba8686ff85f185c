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
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput
from app.models import IdempotencyKey, utcnow

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


async def purge_expired(session: AsyncSession) -> int:
    """Delete keys older than their 24 hours; return how many."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - LIFETIME)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
