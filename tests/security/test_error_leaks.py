"""Error pages leak nothing: no tracebacks, no internals, no reflected markup."""

from __future__ import annotations

import logging

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client


async def test_500_leaks_nothing_and_logs_the_request_id(
    app: Quart, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    @app.route("/explode")
    async def explode() -> str:
        raise RuntimeError("database password is hunter2")

    with caplog.at_level(logging.ERROR):
        page = await client.get("/explode", headers={"X-Request-ID": "req-500"})
        api = await client.get("/explode", headers={"Accept": "application/json"})
    text = await page.get_data(as_text=True)
    assert page.status_code == 500
    assert "hunter2" not in text
    assert "RuntimeError" not in text
    assert "Traceback" not in text
    assert "Request id: req-500." in text
    body = await api.get_json()
    assert body["error"] == "Internal Server Error"
    assert "hunter2" not in body["message"]
    assert any("req-500" in r.getMessage() for r in caplog.records)
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


async def test_a_404_does_not_reflect_markup(client: Client) -> None:
    response = await client.get("/<script>alert(1)</script>")
    page = await response.get_data(as_text=True)
    assert response.status_code == 404
    assert "<script>alert(1)</script>" not in page


async def test_bad_credentials_do_not_say_which_part_was_wrong(
    client: Client, bearer: dict[str, str]
) -> None:
    wrong = await client.get("/api/alerts", headers={"Authorization": "Bearer hrld_wrong"})
    missing = await client.get("/api/alerts")
    assert (await wrong.get_json())["message"] == (await missing.get_json())["message"]
