"""PagerDuty's Events API v2 at /v2/enqueue, answered as PagerDuty answers."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.alerts import get_alert
from app.db import get_db
from app.dispatch import get_dispatcher
from app.lifecycle import open_alert_id

pytestmark = pytest.mark.storage


def event(token: str, action: str = "trigger", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": token,
        "event_action": action,
        "payload": {
            "summary": "DB replica lagging 300 s",
            "source": "db2.example",
            "severity": "error",
            "component": "postgres",
            "group": "prod-db",
            "class": "replication",
            "custom_details": {"lag_seconds": 300},
        },
        "links": [{"href": "https://grafana.example/d/db", "text": "Dashboard"}],
        "client": "Zabbix",
    }
    return body | fields


async def enqueue(client: Client, body: Any) -> Any:
    return await client.post("/v2/enqueue", json=body)


async def test_trigger_acknowledge_resolve_by_dedup_key(
    app: Quart, client: Client, token: str
) -> None:
    answer = await enqueue(client, event(token, dedup_key="db2-lag"))
    assert answer.status_code == 202
    assert await answer.get_json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "db2-lag",
    }
    async with get_db(app).session() as session:
        alert_id = await open_alert_id(session, "db2-lag")
        assert alert_id is not None
        record = await get_alert(session, alert_id)
    assert record is not None
    assert (record.title, record.severity, record.source) == (
        "DB replica lagging 300 s",
        "critical",
        "pagerduty",
    )
    assert record.labels == {
        "class": "replication",
        "component": "postgres",
        "group": "prod-db",
        "source": "db2.example",
    }
    assert '"lag_seconds": 300' in record.message
    assert record.links == [{"href": "https://grafana.example/d/db", "text": "Dashboard"}]
    await get_dispatcher(app).dispatch_alert(alert_id)
    for action, state in (("acknowledge", "acknowledged"), ("resolve", "resolved")):
        answer = await enqueue(
            client, {"routing_key": token, "event_action": action, "dedup_key": "db2-lag"}
        )
        assert answer.status_code == 202
        async with get_db(app).session() as session:
            record = await get_alert(session, alert_id)
        assert record is not None
        assert record.state == state
    assert record.acknowledged_by == "alice"


async def test_a_trigger_without_a_dedup_key_gets_one(client: Client, token: str) -> None:
    first = await (await enqueue(client, event(token))).get_json()
    second = await (await enqueue(client, event(token))).get_json()
    assert len(first["dedup_key"]) == 32
    assert first["dedup_key"] != second["dedup_key"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"event_action": "explode"}, "event_action"),
        ({"payload": None}, "payload"),
        ({"payload": {"summary": "x", "source": "y", "severity": "fatal"}}, "payload.severity"),
        ({"payload": {"source": "y", "severity": "info"}}, "payload.summary"),
        ({"event_action": "resolve", "payload": None}, "dedup_key"),
    ],
)
async def test_invalid_events_are_400_in_pagerdutys_shape(
    client: Client, token: str, change: dict[str, Any], problem: str
) -> None:
    answer = await enqueue(client, event(token) | change)
    assert answer.status_code == 400
    body = await answer.get_json()
    assert (body["status"], body["message"]) == ("invalid event", "Event object is invalid")
    assert any(problem in error for error in body["errors"]), body


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b"[1, 2]", b"1" * 5000])
async def test_bodies_that_are_not_events_are_400(client: Client, body: bytes) -> None:
    answer = await client.post(
        "/v2/enqueue", data=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert (await answer.get_json())["status"] == "invalid event"


async def test_a_routing_key_that_is_no_token_is_refused(client: Client) -> None:
    answer = await enqueue(client, event("R0UT1NGKEY0000000000000000000000"))
    assert answer.status_code == 401
    assert "routing_key" in (await answer.get_json())["message"]
