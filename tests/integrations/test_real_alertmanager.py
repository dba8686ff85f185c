"""A real Alertmanager notifies a real Herald through both of its receivers: the webhook
(``/api/integrations/alertmanager``) and PagerDuty's Events API v2 (``/v2/enqueue``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from quart import Quart
from sqlalchemy import select

from app.auth import create_token
from app.db import get_db
from app.models import AlertRecord, utcnow
from tests.alertmanager import alertmanager_bin, alertmanager_server
from tests.conftest import add_user, migrated_app, require_installed
from tests.servers import hypercorn_server, wait_until

CONFIG = """
global:
  resolve_timeout: 10s
route:
  receiver: herald-webhook
  group_by: ["alertname"]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: herald-pagerduty
      matchers: ['via="pagerduty"']
receivers:
  - name: herald-webhook
    webhook_configs:
      - url: {herald}/api/integrations/alertmanager
        http_config:
          authorization:
            credentials: {token}
  - name: herald-pagerduty
    pagerduty_configs:
      - routing_key: {token}
        url: {herald}/v2/enqueue
"""


@pytest.fixture(name="herald")
async def _herald(settings: dict[str, Any]) -> AsyncIterator[tuple[Quart, str, str]]:
    """A Herald served on a loopback port, and an API token for Alertmanager."""
    require_installed(alertmanager_bin() is not None, "prometheus-alertmanager")
    app = await migrated_app(settings | {"CHANNELS": ["tests.sample_channels.RecordingChannel"]})
    async with hypercorn_server(app) as url:
        await wait_until(lambda: answers(f"{url}/readyz"), 30, "Herald serving")
        user = await add_user(app, "alertmanager")
        async with get_db(app).session() as session:
            token = await create_token(session, user, "alertmanager")
        yield app, url, token


async def answers(url: str) -> bool:
    """Whether ``url`` answers 200 yet."""
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(url)).status_code == 200
    except httpx.TransportError:
        return False


def am_alert(
    name: str, instance: str, *, via: str = "webhook", ended: bool = False
) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": {"alertname": name, "instance": instance, "severity": "warning", "via": via},
        "annotations": {"summary": f"{name} on {instance}"},
        "generatorURL": "http://prometheus.example:9090/graph",
        "startsAt": (utcnow() - timedelta(minutes=5)).isoformat(),
    }
    if ended:
        alert["endsAt"] = (utcnow() - timedelta(seconds=1)).isoformat()
    return alert


async def post_alerts(am_url: str, alerts: list[dict[str, Any]]) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{am_url}/api/v2/alerts", json=alerts)
    assert response.status_code == 200, response.text


async def alerts_by_source(app: Quart, source: str) -> list[AlertRecord]:
    async with get_db(app).session() as session:
        statement = select(AlertRecord).where(AlertRecord.source == source).order_by(AlertRecord.id)
        return list(await session.scalars(statement.execution_options(populate_existing=True)))


def sent(records: list[AlertRecord], notification: str) -> int:
    return sum(
        d.notification == notification and d.status == "sent" for r in records for d in r.deliveries
    )


async def test_webhook_receiver_one_alert_per_fingerprint_never_sent_twice_then_resolved(
    herald: tuple[Quart, str, str],
) -> None:
    app, url, token = herald
    with alertmanager_server(CONFIG.format(herald=url, token=token)) as am:
        await post_alerts(am, [am_alert("DiskFull", "db1"), am_alert("DiskFull", "db2")])

        async def both_sent() -> bool:
            records = await alerts_by_source(app, "alertmanager")
            return len(records) == 2 and sent(records, "firing") == 2

        await wait_until(both_sent, 60, "two alerts from Alertmanager, sent")
        # A third alert joins the group: Alertmanager sends the whole group again.
        await post_alerts(am, [am_alert("DiskFull", "db3")])

        async def repeated() -> bool:
            records = await alerts_by_source(app, "alertmanager")
            return len(records) == 3 and any(r.occurrences > 1 for r in records)

        await wait_until(repeated, 60, "the group sent again with the third alert")
        records = await alerts_by_source(app, "alertmanager")
        assert len({r.dedup_key for r in records}) == 3  # one alert per fingerprint

        async def third_sent() -> bool:
            return sent(await alerts_by_source(app, "alertmanager"), "firing") == 3

        await wait_until(third_sent, 60, "the third alert sent")
        assert sent(await alerts_by_source(app, "alertmanager"), "firing") == 3  # never twice

        ended = [am_alert("DiskFull", host, ended=True) for host in ("db1", "db2", "db3")]
        await post_alerts(am, ended)

        async def resolved() -> bool:
            records = await alerts_by_source(app, "alertmanager")
            return all(r.state == "resolved" for r in records) and sent(records, "resolved") == 3

        await wait_until(resolved, 60, "every alert resolved, with resolved notifications")
        records = await alerts_by_source(app, "alertmanager")
        assert sum(len(r.deliveries) for r in records) == 6  # 3 firing, 3 resolved: no repeat


async def test_pagerduty_receiver_triggers_and_resolves(
    herald: tuple[Quart, str, str],
) -> None:
    app, url, token = herald
    with alertmanager_server(CONFIG.format(herald=url, token=token)) as am:
        await post_alerts(am, [am_alert("Replication", "db9", via="pagerduty")])

        async def triggered() -> bool:
            records = await alerts_by_source(app, "pagerduty")
            return len(records) == 1 and sent(records, "firing") == 1

        await wait_until(triggered, 60, "an alert from Alertmanager's PagerDuty receiver")
        [record] = await alerts_by_source(app, "pagerduty")
        assert "Replication" in record.title
        await post_alerts(am, [am_alert("Replication", "db9", via="pagerduty", ended=True)])

        async def resolved() -> bool:
            records = await alerts_by_source(app, "pagerduty")
            return records[0].state == "resolved" and sent(records, "resolved") == 1

        await wait_until(resolved, 60, "the PagerDuty incident resolved")
