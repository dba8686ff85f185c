"""Security headers on every response; HSTS in production."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.hooks import HSTS
from tests.conftest import migrated_app


@pytest.mark.parametrize("path", ["/", "/login", "/healthz", "/api/alerts", "/missing", "/sw.js"])
async def test_browser_hardening_headers(client: Client, path: str) -> None:
    headers = (await client.get(path)).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-XSS-Protection"] == "0"
    assert "camera=()" in headers["Permissions-Policy"]
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "Strict-Transport-Security" not in headers  # not in development


async def test_production_sends_hsts(
    settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_ENV", "production")
    monkeypatch.setenv("HERALD_SECRET_KEY", "a-long-production-secret-key")
    app: Quart = await migrated_app(settings, env=None)
    async with app.test_app():
        response = await app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"] == HSTS


async def test_pages_have_no_inline_script_or_style(client: Client) -> None:
    page = await (await client.get("/login")).get_data(as_text=True)
    assert "<script>" not in page
    assert "style=" not in page
    assert "onclick" not in page
