"""The database: one async engine per app, a session per request, Alembic for the schema.

A SQLite file that is deleted or made read-only under a running Herald must not swallow
alerts: SQLite would go on writing to the unlinked file, and a pooled connection into its
journal. So the file is opened ``mode=rw`` (never created behind Herald's back), and each
connection, when taken from the pool, checks that the path still holds the very file it
opened (if not, it is replaced by a new connection, which fails when the file is gone) and
that the file is writable (if not, :class:`DatabaseUnavailableError`). The request answers
503 with Retry-After (``app/errors.py``) and ``/readyz`` reports the reason.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from quart import Quart, current_app, g
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
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


FileId = tuple[int, int]


def file_id(path: str) -> FileId | None:
    """The (device, inode) of the file at ``path``, or None when there is none."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class DatabaseUnavailableError(RuntimeError):
    """The database cannot take writes now (answered with 503 and Retry-After)."""


def file_problem(path: str, opened: FileId | None) -> str | None:
    """Why a connection to the SQLite file at ``path``, opened on the file ``opened``, must
    not be used: the file is gone or another one is in its place (None when all is well)."""
    now = file_id(path)
    if now is None:
        return f"the database file {path} is missing"
    if opened is not None and now != opened:
        return f"the database file {path} was replaced"
    return None


def read_only_problem(path: str) -> str | None:
    """Why the SQLite file at ``path`` cannot take writes (None when it can)."""
    directory = os.path.dirname(path) or "."
    if not os.access(path, os.R_OK | os.W_OK) or not os.access(directory, os.W_OK):
        return f"the database file {path} (or its directory) is read-only"
    return None


class Database:
    """Owns the engine and session factory; opened at start-up, disposed at shutdown."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self._engine: AsyncEngine | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None

    @property
    def sqlite_file(self) -> str | None:
        """The SQLite database's path, for a file database."""
        path = self.url.database
        if self.url.get_backend_name() != "sqlite" or not path or path == ":memory:":
            return None
        return path

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
        url: URL | str = self.url
        path = self.sqlite_file
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).touch()  # created here, by intent, and never by a connection
            uri = f"file:{quote(path)}"
            url = self.url.set(database=uri, query={"mode": "rw", "uri": "true"})
        # Room for the dispatcher's concurrent bookkeeping next to the requests being served.
        pool = {} if is_sqlite else {"pool_size": 10, "max_overflow": 30, "pool_pre_ping": True}
        self._engine = create_async_engine(url, **pool)
        if is_sqlite:
            event.listen(self._engine.sync_engine, "connect", _sqlite_pragmas)
        if path is not None:
            self._watch_file(self._engine, path)
        self._sessionmaker = async_sessionmaker(self._engine, expire_on_commit=False)

    @staticmethod
    def _watch_file(engine: AsyncEngine, path: str) -> None:
        """Let no connection write to a file that is gone, replaced or read-only."""

        def connecting(*_args: Any) -> None:
            # aiosqlite, when its connect fails, stops its thread without waiting for it, and
            # the thread later calls into a loop that may be closed by then: fail first.
            if file_id(path) is None:
                raise sqlite3.OperationalError(f"the database file {path} is missing")

        def opened(_dbapi_connection: Any, record: Any) -> None:
            record.info["file_id"] = file_id(path)

        def checked_out(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            problem = file_problem(path, record.info.get("file_id"))
            if problem is not None:  # the pool discards it and opens another (or fails to)
                raise DisconnectionError(problem)
            problem = read_only_problem(path)
            if problem is not None:  # another connection would not help
                raise DatabaseUnavailableError(problem)

        event.listen(engine.sync_engine.dialect, "do_connect", connecting)
        event.listen(engine.sync_engine, "connect", opened)
        event.listen(engine.sync_engine, "checkout", checked_out)

    async def probe(self) -> None:
        """Raise :class:`DatabaseNotReadyError` with the reason unless the database answers
        and, for a SQLite file, can take writes."""
        path = self.sqlite_file
        problem = None
        if path is not None:
            problem = file_problem(path, None) or read_only_problem(path)
        if problem is None:
            try:
                async with self.session() as session:
                    await session.execute(text("SELECT 1"))
            except Exception as error:
                problem = f"the database does not answer: {error}"
        if problem is not None:
            raise DatabaseNotReadyError(problem)

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
