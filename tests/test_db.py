"""Schema management: migrations apply once, and an unmigrated database stops start-up."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from quart.testing.app import LifespanError
from sqlalchemy import inspect, text

from app import create_app
from app.db import Database, DatabaseNotReadyError, get_db
from app.models import Base
from tests.conftest import migrated_app
from tests.postgres import free_port

pytestmark = pytest.mark.storage


async def test_unmigrated_database_stops_start_up(settings: dict[str, Any]) -> None:
    app = create_app(settings, env="testing")
    with pytest.raises(LifespanError, match="run `quart --app asgi migrate` first"):
        async with app.test_app():
            pass


async def test_migrate_creates_the_tables_and_is_idempotent(settings: dict[str, Any]) -> None:
    app = await migrated_app(settings)
    async with get_db(app).connected() as database:
        await database.migrate()  # a second run changes nothing and does not fail
        async with database.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        await database.check_schema()
    assert {"users", "api_tokens", "alerts", "deliveries", "alembic_version"} <= tables


async def test_the_migrations_build_exactly_what_the_models_describe(
    settings: dict[str, Any],
) -> None:
    app = await migrated_app(settings)
    async with get_db(app).connected() as database, database.engine.connect() as connection:
        differences = await connection.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
        )
    assert differences == []


async def test_upgrading_gives_existing_alerts_a_uid(settings: dict[str, Any]) -> None:
    app = create_app(settings, env="testing")
    async with get_db(app).connected() as database:
        await database.migrate("0001")
        async with database.engine.begin() as connection:
            for n in range(3):
                await connection.execute(
                    text(
                        "INSERT INTO alerts (title, message, severity, source, created_at)"
                        " VALUES ('', :m, 'info', 'api', '2026-01-01 00:00:00')"
                    ),
                    {"m": f"old {n}"},
                )
        await database.migrate()
        async with database.engine.connect() as connection:
            uids = list((await connection.execute(text("SELECT uid FROM alerts"))).scalars())
    assert len(uids) == 3
    assert len(set(uids)) == 3
    assert all(len(uid) == 32 and int(uid, 16) >= 0 for uid in uids)


async def test_unreachable_database_is_reported() -> None:
    database = Database(f"postgresql+asyncpg://herald@127.0.0.1:{free_port()}/herald")
    async with database.connected():
        with pytest.raises(DatabaseNotReadyError, match="cannot reach the database"):
            await database.check_schema()
