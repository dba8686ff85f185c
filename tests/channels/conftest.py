"""Helpers for channel tests: send one alert through a real app and read back its delivery."""

from __future__ import annotations

from typing import Any

from quart import Quart

from app.alerts import get_alert
from app.db import get_db
from app.dispatch import get_dispatcher
from app.lifecycle import get_policy, record_alert, resolve
from app.models import Delivery


async def deliver(app: Quart, channel: str, **fields: Any) -> Delivery:
    """Record an alert for ``channel``, dispatch it, and return the stored delivery."""
    values: dict[str, Any] = {
        "message": "Disk 99% full on db1",
        "title": "db1 disk",
        "severity": "critical",
    }
    values.update(fields)
    async with get_db(app).session() as session:
        record = await record_alert(session, channels=[channel], source="test", **values)
    await get_dispatcher(app).dispatch_alert(record.id)
    async with get_db(app).session() as session:
        stored = await get_alert(session, record.id)
    assert stored is not None
    [delivery] = stored.deliveries
    return delivery


async def deliver_and_resolve(app: Quart, channel: str, **fields: Any) -> list[Delivery]:
    """:func:`deliver`, then resolve the alert and send the resolved notification; return
    both deliveries (firing first)."""
    firing = await deliver(app, channel, **fields)
    async with get_db(app).session() as session:
        await resolve(session, firing.alert_id, get_policy(app))
    await get_dispatcher(app).dispatch_alert(firing.alert_id)
    async with get_db(app).session() as session:
        stored = await get_alert(session, firing.alert_id)
    assert stored is not None
    return list(stored.deliveries)
