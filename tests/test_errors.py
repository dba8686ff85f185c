"""Error pages for people, JSON for the API and for clients that ask for it."""

from __future__ import annotations

import pytest
from quart import Quart, abort
from quart.typing import TestClientProtocol as Client


@pytest.mark.parametrize("code", [400, 401, 403, 404, 405, 413, 422, 429, 500])
async def test_every_error_renders_as_html_and_as_json(
    app: Quart, client: Client, code: int
) -> None:
    @app.route(f"/fail/{code}")
    async def fail() -> str:
        abort(code)

    html = await client.get(f"/fail/{code}", headers={"Accept": "text/html"})
    assert html.status_code == code
    assert html.headers["Content-Type"].startswith("text/html")
    assert f"<h1>{code} · " in await html.get_data(as_text=True)

    json_response = await client.get(f"/fail/{code}", headers={"Accept": "application/json"})
    assert json_response.status_code == code
    body = await json_response.get_json()
    assert set(body) == {"error", "message", "status_code"}
    assert body["status_code"] == code


async def test_api_paths_answer_json_whatever_the_accept_header(client: Client) -> None:
    response = await client.get("/api/nowhere", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert (await response.get_json())["error"] == "Not Found"


async def test_browser_accept_header_gets_html(client: Client) -> None:
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = await client.get("/nowhere", headers={"Accept": accept})
    assert response.status_code == 404
    assert "<h1>404 · Not Found</h1>" in await response.get_data(as_text=True)
