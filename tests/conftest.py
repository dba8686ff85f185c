"""Shared fixtures: a migrated app per test, a client, and sign-in helpers."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from quart import Quart, Response
from quart.typing import TestClientProtocol as Client

from app import create_app
from app.auth import create_token, create_user
from app.db import get_db
from app.models import User
from tests import postgres, redis_server
from tests.sample_channels import FailingChannel, RecordingChannel, path

pytest_plugins = ["tests.webpush"]  # the Web Push fixtures, for the channel and the routes

PASSWORD = "correct horse battery staple"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
FLASH = re.compile(r'data-category="([^"]+)">\s*<span class="flash-text">([^<]*)</span>')


def flashes(page: str) -> list[tuple[str, str]]:
    """The flash messages on a page, as (category, text)."""
    return FLASH.findall(page)


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, never from the developer's shell."""
    for key in list(os.environ):
        if key.startswith("HERALD_"):
            monkeypatch.delenv(key)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``storage`` run once on SQLite and once on PostgreSQL."""
    if (
        metafunc.definition.get_closest_marker("storage")
        and "database_kind" in metafunc.fixturenames
    ):
        metafunc.parametrize("database_kind", ["sqlite", "postgresql"])


@pytest.fixture(name="database_kind")
def _database_kind() -> str:
    return "sqlite"


def require_installed(installed: bool, server: str) -> None:
    """Skip when ``server`` is missing, but fail under ``make test``, which installs it."""
    if not installed:
        message = f"{server} is not installed; `make test` installs it"
        if os.environ.get("HERALD_REQUIRE_SERVERS"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(name="postgres_url", scope="session")
def _postgres_url() -> Iterator[str]:
    require_installed(postgres.postgres_bin() is not None, "PostgreSQL")
    with postgres.postgres_server() as url:
        yield url


@pytest.fixture(name="redis_url", scope="session")
def _redis_url() -> Iterator[str]:
    require_installed(shutil.which("redis-server") is not None, "redis-server")
    with redis_server.redis_server() as url:
        yield url


@pytest.fixture(name="database_url")
def _database_url(
    database_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    if database_kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
        return
    with postgres.fresh_database(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture(name="settings")
def _settings(database_url: str) -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url,
        "CHANNELS": [path(RecordingChannel), path(FailingChannel)],
        "CHANNEL_TIMEOUT": 2.0,
        "RETRY_MAX_ATTEMPTS": 1,  # tests of retrying ask for more
        "RETRY_BASE": 0.01,
    }


async def migrated_app(settings: dict[str, Any], env: str | None = "testing") -> Quart:
    """A Herald app for ``settings`` whose database has every migration applied."""
    app = create_app(settings, env=env)
    async with get_db(app).connected() as database:
        await database.migrate()
    return app


@pytest.fixture(name="app")
async def _app(settings: dict[str, Any]) -> AsyncIterator[Quart]:
    app = await migrated_app(settings)
    async with app.test_app():  # runs before_serving / after_serving like a server would
        yield app


@pytest.fixture(name="client")
def _client(app: Quart) -> Client:
    return app.test_client()


async def add_user(app: Quart, username: str, *, admin: bool = False) -> User:
    """Store a user whose password is :data:`PASSWORD`."""
    async with get_db(app).session() as session:
        return await create_user(session, username, PASSWORD, is_admin=admin)


@pytest.fixture(name="user")
async def _user(app: Quart) -> User:
    return await add_user(app, "alice")


@pytest.fixture(name="admin")
async def _admin(app: Quart) -> User:
    return await add_user(app, "root", admin=True)


@pytest.fixture(name="token")
async def _token(app: Quart, user: User) -> str:
    async with get_db(app).session() as session:
        return await create_token(session, user, "tests")


@pytest.fixture(name="bearer")
def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def csrf_from(client: Client, url: str = "/login") -> str:
    """GET ``url`` and return the CSRF token its form carries."""
    response = await client.get(url)
    match = CSRF_INPUT.search(await response.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


async def post_alert(client: Client, **fields: str | list[str]) -> Response:
    """Submit the compose form; list values become repeated fields, as a browser sends them."""
    pairs = [("csrf_token", await csrf_from(client, "/"))]
    for name, value in fields.items():
        pairs += [(name, v) for v in value] if isinstance(value, list) else [(name, value)]
    body = urlencode(pairs).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return await client.post("/alerts", data=body, headers=headers)


class AuthActions:
    """Sign in and out through the real login form (flaskr's ``auth`` fixture)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def login(
        self, username: str = "alice", password: str = PASSWORD, next_: str = ""
    ) -> Any:
        token = await csrf_from(self.client)
        url = f"/login?next={next_}" if next_ else "/login"
        form = {"username": username, "password": password, "csrf_token": token}
        return await self.client.post(url, form=form)

    async def logout(self) -> Any:
        token = await csrf_from(self.client, "/")
        return await self.client.post("/logout", form={"csrf_token": token})


@pytest.fixture(name="auth")
def _auth(client: Client) -> AuthActions:
    return AuthActions(client)
