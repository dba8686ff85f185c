"""The lifecycle in the API: dedup keys and labels, acknowledge, resolve, silences."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.dispatch import get_dispatcher
from app.models import utcnow

pytestmark = pytest.mark.storage

ALERT = {
    "message": "disk full",
    "severity": "critical",
    "dedup_key": "db1-disk",
    "labels": {"host": "db1"},
}


async def post_alert(client: Client, bearer: dict[str, str], **fields: Any) -> Any:
    return await client.post("/api/alerts", json=ALERT | fields, headers=bearer)


async def test_a_dedup_key_seen_again_answers_200_with_the_same_alert(
    client: Client, bearer: dict[str, str]
) -> None:
    first = await post_alert(client, bearer)
    assert first.status_code == 202
    body = await first.get_json()
    assert (body["state"], body["dedup_key"], body["labels"]) == (
        "firing",
        "db1-disk",
        {"host": "db1"},
    )
    assert body["url"] == f"http://127.0.0.1:8000/alerts/{body['id']}"
    again = await post_alert(client, bearer)
    assert again.status_code == 200
    seen = await again.get_json()
    assert (seen["id"], seen["occurrences"]) == (body["id"], 2)
    assert len(seen["deliveries"]) == len(body["deliveries"])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"dedup_key": ""}, "dedup_key"),
        ({"dedup_key": "x" * 256}, "dedup_key"),
        ({"dedup_key": "a\nb"}, "dedup_key"),
        ({"labels": {"1host": "x"}}, "labels.1host.[key]"),
        ({"labels": {"host": 1}}, "labels.host"),
        ({"labels": {"host": "a\u2028b"}}, "labels.host"),
        ({"labels": {f"l{n}": "v" for n in range(65)}}, "labels"),
        ({"labels": ["host"]}, "labels"),
    ],
)
async def test_bad_dedup_keys_and_labels_are_422(
    client: Client, bearer: dict[str, str], fields: dict[str, Any], field: str
) -> None:
    response = await post_alert(client, bearer, **fields)
    assert response.status_code == 422
    assert field in (await response.get_json())["fields"]


async def test_acknowledge_then_resolve(app: Quart, client: Client, bearer: dict[str, str]) -> None:
    alert = await (await post_alert(client, bearer)).get_json()
    await get_dispatcher(app).dispatch_alert(alert["id"])
    acknowledged = await client.post(f"/api/alerts/{alert['id']}/acknowledge", headers=bearer)
    assert acknowledged.status_code == 200
    body = await acknowledged.get_json()
    assert (body["state"], body["acknowledged_by"]) == ("acknowledged", "alice")
    assert body["acknowledged_at"]
    resolved = await client.post(f"/api/alerts/{alert['id']}/resolve", json={}, headers=bearer)
    assert resolved.status_code == 200
    body = await resolved.get_json()
    assert body["state"] == "resolved"
    told = {d["channel"] for d in body["deliveries"] if d["notification"] == "resolved"}
    assert told == {"recording"}  # the failing channel was never told it fires
    again = await client.post(f"/api/alerts/{alert['id']}/acknowledge", headers=bearer)
    assert again.status_code == 409
    assert "resolved" in (await again.get_json())["message"]


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
async def test_actions_on_a_missing_alert_are_404(
    client: Client, bearer: dict[str, str], action: str
) -> None:
    response = await client.post(f"/api/alerts/999/{action}", headers=bearer)
    assert response.status_code == 404


async def test_an_action_with_a_body_that_is_not_json_is_refused(
    client: Client, bearer: dict[str, str]
) -> None:
    alert = await (await post_alert(client, bearer)).get_json()
    response = await client.post(
        f"/api/alerts/{alert['id']}/acknowledge", data="yes", headers=bearer
    )
    assert response.status_code == 415


async def test_silences_are_created_listed_and_expired(
    client: Client, bearer: dict[str, str]
) -> None:
    ends = (utcnow() + timedelta(hours=2)).isoformat()
    matchers = [{"name": "host", "value": "db[0-9]+", "regex": True}]
    created = await client.post(
        "/api/silences",
        json={"matchers": matchers, "ends_at": ends, "comment": "upgrade"},
        headers=bearer,
    )
    assert created.status_code == 201
    silence = await created.get_json()
    assert created.headers["Location"] == f"/api/silences/{silence['id']}"
    assert silence["state"] == "active"
    assert silence["matchers"] == [
        {"name": "host", "value": "db[0-9]+", "regex": True, "equal": True}
    ]
    quiet = await (await post_alert(client, bearer)).get_json()
    assert (quiet["silenced"], quiet["silence_id"], quiet["deliveries"]) == (
        True,
        silence["id"],
        [],
    )
    listed = await (await client.get("/api/silences", headers=bearer)).get_json()
    assert [s["id"] for s in listed["silences"]] == [silence["id"]]
    expired = await client.delete(f"/api/silences/{silence['id']}", headers=bearer)
    assert (await expired.get_json())["state"] == "expired"
    loud = await (await post_alert(client, bearer, dedup_key="other")).get_json()
    assert not loud["silenced"]
    assert loud["deliveries"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"matchers": [{"name": "host", "value": "(", "regex": True}]}, "matchers.0"),
        ({"matchers": [{"name": "host", "value": "a(?=b)", "regex": True}]}, "matchers.0"),
        ({"matchers": []}, "matchers"),
        ({"matchers": [{"name": "1x", "value": "a"}]}, "matchers.0.name"),
        ({"ends_at": "2001-01-01T00:00:00Z"}, "ends_at"),
        ({"ends_at": "2999-01-01T00:00:00"}, "ends_at"),  # no time zone
        ({"ends_at": "tomorrow"}, "ends_at"),
    ],
)
async def test_bad_silences_are_422(
    client: Client, bearer: dict[str, str], body: dict[str, Any], field: str
) -> None:
    good = {
        "matchers": [{"name": "host", "value": "db1"}],
        "ends_at": (utcnow() + timedelta(hours=1)).isoformat(),
    }
    response = await client.post("/api/silences", json=good | body, headers=bearer)
    assert response.status_code == 422
    assert field in (await response.get_json())["fields"]


async def test_a_missing_silence_is_404(client: Client, bearer: dict[str, str]) -> None:
    assert (await client.get("/api/silences/5", headers=bearer)).status_code == 404
    assert (await client.delete("/api/silences/5", headers=bearer)).status_code == 404
