"""Bad input is a 4xx, never a 500, on SQLite and on PostgreSQL: ids beyond the integer
range, digits that are not ASCII, NUL in text, and JSON that Python cannot hold."""

from __future__ import annotations

import json
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from app.models import User
from tests.conftest import AuthActions, csrf_from

pytestmark = pytest.mark.storage
BEYOND = ["2147483648", "9223372036854775808", "9" * 30, "²", "٣", "0"]


async def assert_nothing_recorded_and_still_working(client: Client, bearer: dict[str, str]) -> None:
    listing = await client.get("/api/alerts", headers=bearer)
    assert (await listing.get_json())["alerts"] == []
    accepted = await client.post("/api/alerts", json={"message": "still fine"}, headers=bearer)
    assert accepted.status_code == 202


@pytest.mark.parametrize("alert_id", BEYOND)
async def test_ids_beyond_the_range_are_404_under_the_api(
    client: Client, bearer: dict[str, str], alert_id: str
) -> None:
    response = await client.get(f"/api/alerts/{alert_id}", headers=bearer)
    assert response.status_code == 404
    assert (await response.get_json())["status_code"] == 404
    deleted = await client.delete(f"/api/push/subscriptions/{alert_id}", headers=bearer)
    assert deleted.status_code == 404
    await assert_nothing_recorded_and_still_working(client, bearer)


@pytest.mark.parametrize("before", BEYOND)
async def test_paging_beyond_the_range_is_422_under_the_api(
    client: Client, bearer: dict[str, str], before: str
) -> None:
    response = await client.get("/api/alerts", query_string={"before": before}, headers=bearer)
    assert response.status_code == 422
    assert "before" in (await response.get_json())["fields"]


@pytest.mark.parametrize("value", BEYOND)
async def test_ids_beyond_the_range_are_pages_on_the_web(
    auth: AuthActions, client: Client, admin: User, value: str
) -> None:
    await auth.login("root")
    page = await client.get(f"/alerts/{value}")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    history = await client.get("/", query_string={"before": value})
    assert history.status_code == 200  # an id that is not one is ignored, like other filters
    token = await csrf_from(client, "/admin")
    for action in (f"/admin/users/{value}/disable", f"/admin/tokens/{value}/revoke"):
        refused = await client.post(action, form={"csrf_token": token})
        assert refused.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": "a\u0000b"}, "message"),
        ({"message": "x", "title": "a\u0000"}, "title"),
        ({"message": "x", "channels": ["rec\u0000ording"]}, "channels.0"),
        ({"message": "x", "extra": {"deep": ["\u0000"]}}, "extra"),  # refused as unknown
    ],
)
async def test_nul_in_json_text_is_422_naming_the_field(
    client: Client, bearer: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/alerts", json=body, headers=bearer)
    assert response.status_code == 422
    assert field in (await response.get_json())["fields"]
    await assert_nothing_recorded_and_still_working(client, bearer)


@pytest.mark.parametrize(
    "body",
    [
        b'{"message": "x", "n": ' + b"9" * 5000 + b"}",
        b'{"message": ' + b"[" * 2000 + b"]" * 2000 + b"}",
        json.dumps({"message": "x"}).encode("utf-16"),
        json.dumps({"message": "x"}).encode("utf-16-le"),
        json.dumps({"message": "x"}).encode("utf-32"),
    ],
    ids=["5000-digits", "nested-2000", "utf-16", "utf-16-le", "utf-32"],
)
async def test_json_python_cannot_hold_is_400(
    client: Client, bearer: dict[str, str], body: bytes
) -> None:
    headers = {**bearer, "Content-Type": "application/json"}
    response = await client.post("/api/alerts", data=body, headers=headers)
    assert response.status_code == 400
    assert "not valid JSON" in (await response.get_json())["message"]
    await assert_nothing_recorded_and_still_working(client, bearer)


async def test_nul_in_a_filter_or_a_form_is_a_400_page(
    auth: AuthActions, client: Client, user: User, bearer: dict[str, str]
) -> None:
    refused_login = await client.post(
        "/login",
        form={"username": "alice\x00", "password": "x", "csrf_token": await csrf_from(client)},
    )
    assert refused_login.status_code == 400
    await auth.login()
    for query in ("q=disk%00", "severity%00=info", "q=fine&q=second%00"):
        page = await client.get(f"/?{query}")
        assert page.status_code == 400
        assert page.mimetype == "text/html"
        assert "NUL" in await page.get_data(as_text=True)
    form = {"message": "a\x00b", "csrf_token": await csrf_from(client, "/")}
    assert (await client.post("/alerts", form=form)).status_code == 400
    await assert_nothing_recorded_and_still_working(client, bearer)
