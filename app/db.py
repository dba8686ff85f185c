"""The database: one async engine per app, a session per request, Alembic for the schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from quart import Quart, current_app, g
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from config import BASE_DIR

MIGRATIONS_DIR = BASE_DIR / "migrations"
MIGRATE_COMMAND = "quart --app asgi migrate"


class DatabaseNotReadyError(RuntimeError):
    """The database is unreachable or its schema is not at the latest migration."""


def alembic_config() -> AlembicConfig:
    """Alembic settings built in code, so no ini file is needed."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the dashboard read while deliveries are recorded; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """Owns the engine and session factory; opened at start-up, disposed at shutdown."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self._engine: AsyncEngine | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None

    @property
    def engine(self) -> AsyncEngine:
        """The open engine; raises when :meth:`open` has not run."""
        if self._engine is None:
            raise RuntimeError("the database is not open (before_serving has not run)")
        return self._engine

    def open(self) -> None:
        """Create the engine (no connection is made until first use)."""
        if self._engine is not None:
            return
        is_sqlite = self.url.get_backend_name() == "sqlite"
        if is_sqlite and self.url.database and self.url.database != ":memory:":
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        # Room for the dispatcher's concurrent bookkeeping next to the requests being served.
        pool = {} if is_sqlite else {"pool_size": 10, "max_overflow": 30, "pool_pre_ping": True}
        self._engine = create_async_engine(self.url, **pool)
        if is_sqlite:
            event.listen(self._engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessionmaker = async_sessionmaker(self._engine, expire_on_commit=False)

    async def close(self) -> None:
        """Dispose of the engine and its pooled connections."""
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = self._sessionmaker = None

    def session(self) -> AsyncSession:
        """A new session; use as ``async with db.session() as session``."""
        if self._sessionmaker is None:
            raise RuntimeError("the database is not open (before_serving has not run)")
        return self._sessionmaker()

    async def migrate(self, revision: str = "head") -> None:
        """Apply every Alembic migration up to ``revision`` not yet applied; safe to repeat."""

        def upgrade(connection: Connection) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)

        async with self.engine.begin() as connection:
            await connection.run_sync(upgrade)

    async def check_schema(self) -> None:
        """Raise :class:`DatabaseNotReadyError` unless the schema is at the latest migration."""
        heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())

        def current(connection: Connection) -> set[str]:
            return set(MigrationContext.configure(connection).get_current_heads())

        try:
            async with self.engine.connect() as connection:
                applied = await connection.run_sync(current)
        except Exception as error:
            raise DatabaseNotReadyError(f"cannot reach the database: {error}") from error
        if applied != heads:
            raise DatabaseNotReadyError(
                f"the database schema is not up to date; run `{MIGRATE_COMMAND}` first"
            )

    @asynccontextmanager
    async def connected(self) -> AsyncIterator[Database]:
        """Open for the length of a block (CLI commands); close afterwards."""
        self.open()
        try:
            yield self
        finally:
            await self.close()


def get_db(app: Quart | None = None) -> Database:
    """The app's :class:`Database`."""
    database: Database = (app or current_app).extensions["herald.db"]
    return database


def db_session() -> AsyncSession:
    """The session of the current app context, created on first use, closed at teardown."""
    if "db_session" not in g:
        g.db_session = get_db().session()
    session: AsyncSession = g.db_session
    return session


async def _release_session(_exc: BaseException | None) -> None:
    session: AsyncSession | None = g.pop("db_session", None)
    if session is not None:
        await session.close()


def init_app(app: Quart) -> None:
    """Attach a :class:`Database` to ``app`` and tie its life to serving."""
    database = Database(app.config["DATABASE_URL"])
    app.extensions["herald.db"] = database

    @app.before_serving
    async def open_database() -> None:
        database.open()
        try:
            await database.check_schema()
        except DatabaseNotReadyError:
            await database.close()  # after_serving does not run when start-up fails
            raise

    app.after_serving(database.close)
    app.teardown_appcontext(_release_session)
