"""ntfy's publish at /ntfy/<topic>: the body is the message, headers say the rest."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.alerts import get_alert, recent_alerts
from app.db import get_db
from tests.conftest import migrated_app

pytestmark = pytest.mark.storage


async def publish(client: Client, bearer: dict[str, str], body: bytes, **headers: str) -> Any:
    return await client.post("/ntfy/ops", data=body, headers=bearer | headers)


async def test_curl_d_raises_an_alert_and_answers_like_ntfy(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    answer = await publish(client, bearer, b"disk full")
    assert answer.status_code == 200
    message = await answer.get_json()
    assert (message["event"], message["topic"], message["message"]) == (
        "message",
        "ops",
        "disk full",
    )
    assert message["priority"] == 3
    async with get_db(app).session() as session:
        [record] = await recent_alerts(session, limit=5)
    assert (record.message, record.severity, record.source) == ("disk full", "info", "ntfy")
    assert record.labels == {"topic": "ops"}
    assert message["id"] == record.uid


@pytest.mark.parametrize(
    ("headers", "severity"),
    [
        ({"Priority": "5"}, "critical"),
        ({"X-Priority": "urgent"}, "critical"),
        ({"prio": "max"}, "critical"),
        ({"p": "high"}, "warning"),
        ({"Priority": "4"}, "warning"),
        ({"Priority": "default"}, "info"),
        ({"Priority": "low"}, "info"),
        ({"Priority": "min"}, "info"),
        ({"Priority": "1"}, "info"),
    ],
)
async def test_priorities_map_onto_severities(
    app: Quart, client: Client, bearer: dict[str, str], headers: dict[str, str], severity: str
) -> None:
    answer = await publish(client, bearer, b"x", **headers)
    async with get_db(app).session() as session:
        [record] = await recent_alerts(session, limit=1)
    assert answer.status_code == 200
    assert record.severity == severity


async def test_title_and_tags_by_any_alias(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    answer = await publish(
        client,
        bearer,
        "Backup failed \u2717".encode(),
        **{"X-Title": "=?utf-8?q?Nightly_backup?=", "ta": "warning,skull"},
    )
    message = await answer.get_json()
    assert (message["title"], message["tags"]) == ("Nightly backup", ["warning", "skull"])
    async with get_db(app).session() as session:
        [record] = await recent_alerts(session, limit=1)
    assert (record.title, record.message) == ("Nightly backup", "Backup failed \u2717")
    assert record.labels == {"topic": "ops", "tags": "warning,skull"}


async def test_put_works_as_post(client: Client, bearer: dict[str, str]) -> None:
    answer = await client.put("/ntfy/ops", data=b"x", headers=bearer)
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "headers", "problem"),
    [
        ("/ntfy/ops", b"x", {"Priority": "6"}, "invalid priority"),
        ("/ntfy/ops", b"\xff\xfe", {}, "UTF-8"),
        ("/ntfy/a.b", b"x", {}, "invalid topic"),
        ("/ntfy/" + "t" * 65, b"x", {}, "invalid topic"),
    ],
)
async def test_bad_publishes_are_400_in_ntfys_shape(
    app: Quart,
    client: Client,
    bearer: dict[str, str],
    path: str,
    body: bytes,
    headers: dict[str, str],
    problem: str,
) -> None:
    answer = await client.post(path, data=body, headers=bearer | headers)
    assert answer.status_code == 400
    error = await answer.get_json()
    assert (error["code"], error["http"]) == (40001, 400)
    assert problem in error["error"]
    async with get_db(app).session() as session:
        assert await recent_alerts(session, limit=1) == []


async def test_without_a_token_it_is_401(app: Quart, client: Client) -> None:
    answer = await client.post("/ntfy/ops", data=b"x")
    assert answer.status_code == 401
    assert (await answer.get_json())["http"] == 401
    async with get_db(app).session() as session:
        assert await get_alert(session, 1) is None


async def test_wrong_tokens_here_and_at_pagerduty_count_against_the_address(
    settings: dict[str, Any],
) -> None:
    app = await migrated_app(settings | {"AUTH_FAILURE_LIMIT": "3/minute"})
    async with app.test_app():
        client = app.test_client()
        wrong = {"Authorization": "Bearer hrld_wrong"}
        assert (await client.post("/ntfy/ops", data=b"x", headers=wrong)).status_code == 401
        assert (await client.post("/ntfy/ops", data=b"x", headers=wrong)).status_code == 401
        event = {"routing_key": "hrld_wrong", "event_action": "resolve", "dedup_key": "k"}
        assert (await client.post("/v2/enqueue", json=event)).status_code == 401
        refused = await client.post("/ntfy/ops", data=b"x", headers=wrong)
        assert refused.status_code == 429
        assert (await refused.get_json())["http"] == 429


async def test_a_body_of_nul_alone_falls_back_to_the_title(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    answer = await publish(client, bearer, b"\x00\x00", Title="Backup failed")
    assert answer.status_code == 200
    assert (await answer.get_json())["message"] == "Backup failed"
