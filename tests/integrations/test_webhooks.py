"""Alertmanager's and Grafana's webhooks, from the payloads their documentation shows."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.alerts import get_alert
from app.db import get_db
from app.dispatch import get_dispatcher

pytestmark = pytest.mark.storage

ALERTMANAGER: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}:{alertname="HighLatency"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "herald",
    "groupLabels": {"alertname": "HighLatency"},
    "commonLabels": {"alertname": "HighLatency", "severity": "page"},
    "commonAnnotations": {"summary": "p99 latency above 1s"},
    "externalURL": "http://alertmanager.example:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "instance": "api-1:9090", "severity": "page"},
            "annotations": {"summary": "p99 latency above 1s", "description": "for 5 minutes"},
            "startsAt": "2026-11-25T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=latency",
            "fingerprint": "c2f1e3d4a5b6c7d8",
        }
    ],
}
GRAFANA: dict[str, Any] = {
    "receiver": "My Super Webhook",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
            "annotations": {
                "description": "The system has high memory usage",
                "runbook_url": "https://myrunbook.com/runbook/1234",
                "summary": "This alert was triggered for zone us-1",
            },
            "startsAt": "2021-10-12T09:51:03.157076+02:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit",
            "fingerprint": "c6eadffa33fcdf37",
            "silenceURL": "https://play.grafana.org/alerting/silence/new?matchers=team%3Dblue",
            "dashboardURL": "",
            "panelURL": "",
            "values": {"B": 44.23943737541908, "C": 1},
            "valueString": "[ var='B' labels={instance=localhost:9090} value=44.2 ]",
        }
    ],
    "groupLabels": {},
    "commonLabels": {"team": "blue"},
    "commonAnnotations": {},
    "externalURL": "https://play.grafana.org/",
    "version": "1",
    "groupKey": "{}:{}",
    "truncatedAlerts": 0,
    "title": "[FIRING:1]  (blue)",
    "state": "alerting",
    "message": "**Firing**\n\nValue: B=44.2",
}


async def post(client: Client, bearer: dict[str, str], tool: str, body: Any) -> Any:
    return await client.post(f"/api/integrations/{tool}", json=body, headers=bearer)


async def test_alertmanager_fires_then_resolves_one_alert_per_fingerprint(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    answer = await post(client, bearer, "alertmanager", ALERTMANAGER)
    assert answer.status_code == 200
    [handled] = (await answer.get_json())["alerts"]
    assert handled["state"] == "firing"
    async with get_db(app).session() as session:
        record = await get_alert(session, handled["id"])
    assert record is not None
    assert (record.title, record.message) == ("HighLatency on api-1:9090", "p99 latency above 1s")
    assert (record.severity, record.dedup_key, record.source) == (
        "critical",
        "c2f1e3d4a5b6c7d8",
        "alertmanager",
    )
    assert record.labels["instance"] == "api-1:9090"
    assert record.links == [{"href": ALERTMANAGER["alerts"][0]["generatorURL"], "text": "Source"}]
    await get_dispatcher(app).dispatch_alert(record.id)

    again = await (await post(client, bearer, "alertmanager", ALERTMANAGER)).get_json()
    assert again["alerts"][0]["id"] == record.id  # Alertmanager repeats itself: one alert

    resolved = copy.deepcopy(ALERTMANAGER)
    resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
    answer = await post(client, bearer, "alertmanager", resolved)
    assert (await answer.get_json())["alerts"][0] == {
        "id": record.id,
        "dedup_key": "c2f1e3d4a5b6c7d8",
        "state": "resolved",
    }
    async with get_db(app).session() as session:
        record = await get_alert(session, record.id)
    assert record is not None
    assert (record.state, record.occurrences) == ("resolved", 2)
    assert [d.notification for d in record.deliveries].count("resolved") == 1


async def test_grafana_payload_with_its_extra_fields_is_accepted(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    answer = await post(client, bearer, "grafana", GRAFANA)
    assert answer.status_code == 200
    [handled] = (await answer.get_json())["alerts"]
    async with get_db(app).session() as session:
        record = await get_alert(session, handled["id"])
    assert record is not None
    assert (record.title, record.severity, record.source) == (
        "High memory usage",
        "warning",
        "grafana",
    )
    assert record.message == "This alert was triggered for zone us-1"
    assert [link["text"] for link in record.links] == ["Source", "Silence in Grafana"]


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", "critical"),
        ("page", "critical"),
        ("error", "critical"),
        ("warning", "warning"),
        ("info", "info"),
        ("none", "info"),
        ("disaster", "warning"),
        (None, "warning"),
    ],
)
async def test_severity_label_maps_onto_herald_severities(
    app: Quart, client: Client, bearer: dict[str, str], severity: str | None, expected: str
) -> None:
    body = copy.deepcopy(ALERTMANAGER)
    labels = body["alerts"][0]["labels"]
    labels.pop("severity")
    if severity is not None:
        labels["severity"] = severity
    answer = await (await post(client, bearer, "alertmanager", body)).get_json()
    async with get_db(app).session() as session:
        record = await get_alert(session, answer["alerts"][0]["id"])
    assert record is not None
    assert record.severity == expected


async def test_what_does_not_fit_is_made_to_fit_rather_than_refused(
    app: Quart, client: Client, bearer: dict[str, str]
) -> None:
    body = copy.deepcopy(ALERTMANAGER)
    alert = body["alerts"][0]
    alert["labels"] |= {"note": "two\nlines\x00", "bad name": "dropped"}
    alert["annotations"] = {"summary": "s" * 10_000}
    alert["generatorURL"] = "javascript:alert(1)"
    answer = await post(client, bearer, "alertmanager", body)
    assert answer.status_code == 200
    async with get_db(app).session() as session:
        record = await get_alert(session, (await answer.get_json())["alerts"][0]["id"])
    assert record is not None
    assert record.labels["note"] == "two lines"
    assert "bad name" not in record.labels
    assert len(record.message) == 4000
    assert record.links == []  # only http(s) links become links


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"alerts": []}, 422),
        ({"alerts": [{"status": "pending", "labels": {}}]}, 422),
        ({"alerts": [{"labels": {}}]}, 422),
        ({"version": "4"}, 422),
        ([], 422),
    ],
)
async def test_what_cannot_be_understood_is_a_4xx_so_the_tool_does_not_retry(
    client: Client, bearer: dict[str, str], body: Any, status: int
) -> None:
    answer = await post(client, bearer, "alertmanager", body)
    assert answer.status_code == status
    assert (await answer.get_json())["status_code"] == status


async def test_without_a_token_it_is_401(client: Client) -> None:
    answer = await client.post("/api/integrations/alertmanager", json=ALERTMANAGER)
    assert answer.status_code == 401
