"""Request limits: body size (413, even where no body is read), slow bodies (408), fields."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.auth import create_token
from app.db import get_db
from tests.conftest import add_user, migrated_app
from tests.servers import hypercorn_server

LIMIT = 2048


@pytest.fixture(name="small_app")
async def _small_app(settings: dict[str, Any]) -> AsyncIterator[Quart]:
    app = await migrated_app({**settings, "MAX_CONTENT_LENGTH": LIMIT, "BODY_TIMEOUT": 1})
    async with app.test_app():
        yield app


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/channels"), ("GET", "/healthz"), ("POST", "/api/alerts"), ("GET", "/login")],
)
async def test_oversized_bodies_are_413_even_where_nothing_reads_them(
    small_app: Quart, method: str, path: str, bearer: dict[str, str]
) -> None:
    client = small_app.test_client()
    body = b"x" * (LIMIT + 1)
    headers = {**bearer, "Content-Type": "application/json", "Content-Length": str(len(body))}
    send = client.get if method == "GET" else client.post
    response = await send(path, data=body, headers=headers)
    assert response.status_code == 413
    if path.startswith("/api/"):
        assert (await response.get_json())["status_code"] == 413


async def test_a_body_at_the_limit_is_fine(small_app: Quart, bearer: dict[str, str]) -> None:
    message = "x" * (LIMIT - len('{"message": ""}'))
    response = await small_app.test_client().post(
        "/api/alerts", json={"message": message[:4000]}, headers=bearer
    )
    assert response.status_code in (202, 422)  # within the size limit; judged on its fields


async def test_a_body_sent_too_slowly_is_408(settings: dict[str, Any]) -> None:
    app = await migrated_app({**settings, "BODY_TIMEOUT": 1})
    async with get_db(app).connected() as database, database.session() as session:
        token = await create_token(session, await add_user(app, "slow"))
    async with hypercorn_server(app) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        head = (
            "POST /api/alerts HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: 100\r\n\r\n"
        )
        writer.write(head.encode() + b'{"message": ')  # and then nothing more
        await writer.drain()
        try:
            async with asyncio.timeout(10):
                status_line = await reader.readline()
        finally:
            writer.close()
            await writer.wait_closed()
    assert status_line.startswith(b"HTTP/1.1 408")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": "x" * 4001}, "message"),
        ({"message": "ok", "title": "t" * 201}, "title"),
        ({"message": "ok", "title": "bell\x07"}, "title"),
        ({"message": "ok", "title": "tab\there"}, "title"),
    ],
)
async def test_field_limits_and_control_characters(
    client: Client, bearer: dict[str, str], body: dict[str, str], field: str
) -> None:
    response = await client.post("/api/alerts", json=body, headers=bearer)
    assert response.status_code == 422
    assert field in (await response.get_json())["fields"]
