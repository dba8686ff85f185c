"""App-wide hooks: their order, early answers, headers on every response, teardown logging."""

from __future__ import annotations

import logging
import re

import pytest
from quart import Quart, Response, g
from quart.typing import TestClientProtocol as Client

from app.hooks import SECURITY_HEADERS


async def test_before_hooks_run_in_registration_order(app: Quart, client: Client) -> None:
    seen: list[str] = []

    @app.before_request
    async def registered_after_herald() -> None:
        # Herald's hook was registered first, so its values are already in g.
        seen.append(f"started={'request_started' in g} id={g.get('request_id')}")

    response = await client.get("/healthz", headers={"X-Request-ID": "order-check"})
    assert response.status_code == 200
    assert seen == ["started=True id=order-check"]


async def test_after_hooks_run_in_reverse_order(app: Quart, client: Client) -> None:
    headers_seen: list[set[str]] = []

    @app.after_request
    async def registered_last_runs_first(response: Response) -> Response:
        headers_seen.append(set(response.headers.keys()))
        return response

    response = await client.get("/healthz")
    # When this hook ran, Herald's earlier-registered hooks had not yet added their headers...
    assert "X-Processing-Time" not in headers_seen[0]
    assert "X-Content-Type-Options" not in headers_seen[0]
    # ...and they ran after it, so the final response has them.
    assert "X-Processing-Time" in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_after_hooks_run_when_a_before_hook_answers_early(client: Client) -> None:
    response = await client.get("/")  # the login gate answers with a redirect
    assert response.status_code == 302
    assert response.headers["X-Processing-Time"].endswith("s")
    assert response.headers["X-Request-ID"]
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


@pytest.mark.parametrize("path", ["/healthz", "/login", "/no-such-page", "/api/alerts"])
async def test_every_response_carries_the_security_headers(client: Client, path: str) -> None:
    response = await client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


async def test_processing_time_is_in_seconds_and_in_server_timing(client: Client) -> None:
    response = await client.get("/healthz")
    value = response.headers["X-Processing-Time"]
    assert re.fullmatch(r"\d+\.\d{3}s", value)
    timing = re.fullmatch(r"app;dur=(\d+\.\d)", response.headers["Server-Timing"])
    assert timing is not None
    assert abs(float(timing.group(1)) - float(value.removesuffix("s")) * 1000) < 1


async def test_teardown_logs_an_unhandled_error_with_the_request_id(
    app: Quart, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    @app.route("/explode")
    async def explode() -> str:
        raise RuntimeError("database password is hunter2")

    with caplog.at_level(logging.ERROR, logger="herald.requests"):
        response = await client.get("/explode", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    failures = [r for r in caplog.records if r.name == "herald.requests"]
    assert [r.getMessage() for r in failures] == [
        "request GET /explode failed with RuntimeError [request_id=boom-1]"
    ]


async def test_database_session_is_released_at_teardown(app: Quart) -> None:
    from app.db import db_session

    async with app.app_context():
        session = db_session()
        await session.connection()  # check out a pooled connection
        assert session.in_transaction()
    assert not session.in_transaction()  # teardown_appcontext closed it
