"""The JSON API: bearer tokens, submitting and reading alerts, and every bad input."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.auth import hash_token
from app.db import get_db
from app.dispatch import get_dispatcher
from app.models import ApiToken, utcnow

pytestmark = pytest.mark.storage


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic YWxpY2U6c2VjcmV0",
        "Bearer hrld_not-a-real-token",
        "Bearer not-even-prefixed",
    ],
)
async def test_missing_or_invalid_token_is_401_json(
    client: Client, token: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.get("/api/alerts", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="Herald API"'
    body = await response.get_json()
    assert body["status_code"] == 401
    assert body["error"] == "Unauthorized"
    assert "Bearer" in body["message"]


async def test_revoked_token_is_refused(app: Quart, client: Client, token: str) -> None:
    async with get_db(app).session() as session:
        record = await session.get(ApiToken, 1)
        assert record is not None
        assert record.token_hash == hash_token(token)
        record.revoked_at = utcnow()
        await session.commit()
    response = await client.get("/api/alerts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_token_use_is_recorded(app: Quart, client: Client, bearer: dict[str, str]) -> None:
    assert (await client.get("/api/channels", headers=bearer)).status_code == 200
    async with get_db(app).session() as session:
        record = await session.get(ApiToken, 1)
        assert record is not None
        assert record.last_used_at is not None


async def test_post_alert_answers_202_and_dispatches_in_background(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    response = await client.post(
        "/api/alerts",
        json={"message": "CPU at 100%", "title": "web1", "severity": "warning"},
        headers=bearer,
    )
    assert response.status_code == 202
    assert response.headers["Location"] == "/api/alerts/1"
    body = await response.get_json()
    assert body["id"] == 1
    assert body["title"] == "web1"
    assert body["message"] == "CPU at 100%"
    assert body["severity"] == "warning"
    assert [d["channel"] for d in body["deliveries"]] == ["recording", "failing"]

    assert await get_dispatcher(app).wait_for_alert(1, 5)
    final = await (await client.get("/api/alerts/1", headers=bearer)).get_json()
    by_channel = {d["channel"]: d for d in final["deliveries"]}
    assert by_channel["recording"]["status"] == "sent"
    assert by_channel["recording"]["attempts"] == 1
    assert by_channel["recording"]["error"] is None
    assert by_channel["recording"]["latency_ms"] >= 0
    assert by_channel["recording"]["finished_at"] is not None
    assert by_channel["failing"]["status"] == "failed"
    assert by_channel["failing"]["error"] == "DeliveryError: provider said no (code 21211)"
    assert final["status"] == "partial"


async def test_prefer_wait_answers_200_with_final_statuses(
    client: Client, bearer: dict[str, str]
) -> None:
    response = await client.post(
        "/api/alerts",
        json={"message": "done yet?", "channels": ["recording"]},
        headers={**bearer, "Prefer": "wait=10"},
    )
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "wait=10"
    body = await response.get_json()
    assert body["status"] == "sent"
    assert body["deliveries"][0]["status"] == "sent"


async def test_prefer_wait_is_capped_at_30_seconds(client: Client, bearer: dict[str, str]) -> None:
    response = await client.post(
        "/api/alerts",
        json={"message": "x", "channels": ["recording"]},
        headers={**bearer, "Prefer": "respond-async, wait=600"},
    )
    assert response.headers["Preference-Applied"] == "wait=30"


async def post_raw(client: Client, bearer: dict[str, str], body: bytes, **headers: str) -> Any:
    headers = {"Content-Type": "application/json", **bearer, **headers}
    return await client.post("/api/alerts", data=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (b'{"message": "unterminated', 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b"", 400, "not valid JSON"),
        (b'["a", "list"]', 422, "body"),
        (b"{}", 422, "message"),
        (b'{"message": ""}', 422, "message"),
        (b'{"message": "  "}', 422, "message"),
        (b'{"message": 42}', 422, "message"),
        (b'{"message": "x", "title": 7}', 422, "title"),
        (b'{"message": "x", "title": "line\\nbreak"}', 422, "title"),
        (b'{"message": "x", "title": "trailing newline\\n"}', 422, "title"),
        *[
            (f'{{"message": "x", "title": "a{escape}b"}}'.encode(), 422, "title")
            for escape in ("\\u2028", "\\u2029", "\\u0085", "\\u001c", "\\u009f", "\\u0000")
        ],
        (b'{"message": "x", "severity": "loud"}', 422, "severity"),
        (b'{"message": "x", "channels": "recording"}', 422, "channels"),
        (b'{"message": "x", "channels": []}', 422, "channels"),
        (b'{"message": "x", "channels": [1]}', 422, "channels.0"),
        (b'{"message": "x", "colour": "red"}', 422, "colour"),
    ],
)
async def test_bad_input_is_a_clear_4xx_and_records_nothing(
    client: Client, bearer: dict[str, str], body: bytes, status: int, expected: str
) -> None:
    response = await post_raw(client, bearer, body)
    assert response.status_code == status
    error = await response.get_json()
    assert error["status_code"] == status
    assert expected in error["message"] or expected in error.get("fields", {})
    listing = await (await client.get("/api/alerts", headers=bearer)).get_json()
    assert listing["alerts"] == []


async def test_unknown_channel_lists_the_valid_ones(client: Client, bearer: dict[str, str]) -> None:
    response = await post_raw(
        client, bearer, b'{"message": "x", "channels": ["pager", "recording"]}'
    )
    assert response.status_code == 422
    error = await response.get_json()
    assert error["message"] == (
        "Unknown channel(s): pager; configured channels: failing, recording."
    )


async def test_wrong_content_type_is_415(client: Client, bearer: dict[str, str]) -> None:
    response = await post_raw(client, bearer, b'{"message": "x"}', **{"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert "application/json" in (await response.get_json())["message"]


async def test_body_over_the_limit_is_413(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = b'{"message": "' + b"x" * limit + b'"}'
    response = await post_raw(client, bearer, body)
    assert response.status_code == 413
    assert (await response.get_json())["error"] == "Request Entity Too Large"


async def test_list_is_newest_first_and_pages_with_before(
    client: Client, bearer: dict[str, str]
) -> None:
    for n in range(5):
        await post_raw(client, bearer, f'{{"message": "m{n}", "channels": ["recording"]}}'.encode())
    first = await (await client.get("/api/alerts?limit=2", headers=bearer)).get_json()
    assert [a["id"] for a in first["alerts"]] == [5, 4]
    assert first["next_before"] == 4
    second = await (
        await client.get(f"/api/alerts?limit=2&before={first['next_before']}", headers=bearer)
    ).get_json()
    assert [a["id"] for a in second["alerts"]] == [3, 2]
    last = await (await client.get("/api/alerts?limit=2&before=2", headers=bearer)).get_json()
    assert [a["id"] for a in last["alerts"]] == [1]
    assert last["next_before"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=ten", "before=-1", "before=x"])
async def test_bad_paging_arguments_are_422(
    client: Client, bearer: dict[str, str], query: str
) -> None:
    response = await client.get(f"/api/alerts?{query}", headers=bearer)
    assert response.status_code == 422
    name = query.split("=")[0]
    assert name in (await response.get_json())["fields"]


async def test_unknown_alert_is_404_json(client: Client, bearer: dict[str, str]) -> None:
    response = await client.get("/api/alerts/77", headers=bearer)
    assert response.status_code == 404
    assert await response.get_json() == {
        "error": "Not Found",
        "message": "There is no alert 77.",
        "status_code": 404,
    }


async def test_channels_lists_names_and_classes(client: Client, bearer: dict[str, str]) -> None:
    body = await (await client.get("/api/channels", headers=bearer)).get_json()
    assert body == {
        "channels": [
            {"name": "recording", "class": "tests.sample_channels.RecordingChannel"},
            {"name": "failing", "class": "tests.sample_channels.FailingChannel"},
        ]
    }


async def test_healthz_needs_no_token(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}


async def test_wrong_method_is_405_json_with_allow(client: Client, bearer: dict[str, str]) -> None:
    response = await client.delete("/api/channels", headers=bearer)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert (await response.get_json())["status_code"] == 405
