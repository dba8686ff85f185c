"""The cost of a trigger does not grow with the alerts stored: the dedup and silence lookups
use their indexes (SQLite's query plan names them; PostgreSQL plans tiny tables otherwise)."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from sqlalchemy import text

from app.db import get_db
from tests.conftest import migrated_app

LOOKUPS = {
    "ix_alerts_open_dedup_key": (
        "SELECT id FROM alerts WHERE dedup_key = 'k' AND state != 'resolved'"
    ),
    "ix_silences_ends_at": (
        "SELECT id FROM silences WHERE ends_at > '2026-01-01' AND starts_at <= '2026-01-01'"
    ),
}


@pytest.mark.parametrize(("index", "query"), LOOKUPS.items())
async def test_the_lookup_uses_its_index(settings: dict[str, Any], index: str, query: str) -> None:
    app: Quart = await migrated_app(settings)
    async with get_db(app).connected() as database, database.session() as session:
        rows = await session.execute(text(f"EXPLAIN QUERY PLAN {query}"))
        plan = " ".join(str(row[-1]) for row in rows)
    assert index in plan, plan
