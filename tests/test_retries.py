"""Retrying transient failures: backoff with full jitter, Retry-After, and the records kept."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.alerts import get_alert, get_alert_with_history
from app.db import get_db
from app.dispatch import RetryPolicy, get_dispatcher
from app.lifecycle import record_alert
from app.models import Delivery, User, utcnow
from tests.channels.conftest import deliver
from tests.conftest import AuthActions, migrated_app
from tests.sample_channels import FlakyChannel, RejectingChannel, path

pytestmark = pytest.mark.storage


@pytest.fixture(name="app")
async def _app(settings: dict[str, Any]) -> AsyncIterator[Quart]:
    settings.update(
        CHANNELS=[path(FlakyChannel), path(RejectingChannel)],
        RETRY_MAX_ATTEMPTS=4,
        FLAKY_FAILURES=2,
    )
    app = await migrated_app(settings)
    async with app.test_app():
        yield app


def test_delays_grow_exponentially_under_the_cap_with_full_jitter() -> None:
    policy = RetryPolicy(base=1.0, max_delay=60.0, max_attempts=10)
    random.seed(7)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (7, 60), (9, 60)]:
        delays = [policy.delay(attempt) for _ in range(500)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.9  # full jitter reaches the ceiling...
        assert min(delays) < ceiling * 0.1  # ...and goes down to nothing


@pytest.mark.parametrize(("retry_after", "expected"), [(0, 0), (12, 12), (3600, 60), (-5, 0)])
def test_retry_after_is_honoured_up_to_the_cap(retry_after: float, expected: float) -> None:
    assert RetryPolicy(max_delay=60).delay(1, retry_after) == expected


async def test_transient_failures_are_retried_until_sent(app: Quart) -> None:
    delivery = await deliver(app, "flaky")
    assert delivery.status == "sent"
    assert delivery.attempts == 3
    assert delivery.error is None
    assert delivery.provider_ref == f"ref-{delivery.alert_id}"


async def test_permanent_failure_is_not_retried(app: Quart) -> None:
    delivery = await deliver(app, "rejecting")
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.error == "PermanentDeliveryError: [21211] invalid recipient"
    channel = get_dispatcher(app).channels["rejecting"]
    assert isinstance(channel, RejectingChannel)
    assert channel.calls == 1


async def test_giving_up_after_the_last_attempt(settings: dict[str, Any]) -> None:
    settings.update(CHANNELS=[path(FlakyChannel)], RETRY_MAX_ATTEMPTS=2, FLAKY_FAILURES=5)
    app = await migrated_app(settings)
    async with app.test_app():
        delivery = await deliver(app, "flaky")
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert delivery.error == "TransientDeliveryError: [503] provider busy"


async def test_a_delivery_shows_retrying_between_attempts(settings: dict[str, Any]) -> None:
    settings.update(
        CHANNELS=[path(FlakyChannel)],
        FLAKY_RETRY_AFTER=None,  # no Retry-After: the backoff (up to 30 s) applies
        RETRY_MAX_ATTEMPTS=2,
        RETRY_BASE=30,
        RETRY_MAX_DELAY=30,
    )
    app = await migrated_app(settings)
    async with app.test_app():
        async with get_db(app).session() as session:
            record = await record_alert(session, message="m", channels=["flaky"], source="test")
        random.seed(3)  # the jittered wait is then ~7.1 s: long enough to look at
        get_dispatcher(app).notify()
        delivery = await wait_for_status(app, record.id, "retrying")
        assert delivery.attempts == 1
        assert delivery.next_attempt_at is not None
        assert delivery.next_attempt_at - utcnow() > timedelta(seconds=5)
        assert delivery.error == "TransientDeliveryError: [503] provider busy"


async def wait_for_status(app: Quart, alert_id: int, status: str) -> Delivery:
    """Poll the stored delivery until it reaches ``status`` (5 s at most)."""
    async with asyncio.timeout(5):
        while True:
            async with get_db(app).session() as session:
                record = await get_alert(session, alert_id)
            assert record is not None
            if record.deliveries[0].status == status:
                return record.deliveries[0]
            await asyncio.sleep(0.01)


async def test_every_attempt_is_kept_in_the_history(app: Quart) -> None:
    delivery = await deliver(app, "flaky")
    async with get_db(app).session() as session:
        record = await get_alert_with_history(session, delivery.alert_id)
    assert record is not None
    history = record.deliveries[0].history
    assert [(a.number, a.outcome, a.error) for a in history] == [
        (1, "retrying", "TransientDeliveryError: [503] provider busy"),
        (2, "retrying", "TransientDeliveryError: [503] provider busy"),
        (3, "sent", None),
    ]
    assert all(a.finished_at >= a.started_at for a in history)
    assert {a.worker for a in history} == {get_dispatcher(app).worker_id}


async def test_the_alert_page_shows_each_attempt(
    app: Quart, auth: AuthActions, client: Client, user: User
) -> None:
    delivery = await deliver(app, "flaky")
    await auth.login()
    page = await (await client.get(f"/alerts/{delivery.alert_id}")).get_data(as_text=True)
    attempts = page.split("<h2>Attempts</h2>", 1)[1]
    assert attempts.count('<span class="badge badge-retrying">retrying</span>') == 2
    assert attempts.count('<span class="badge badge-sent">sent</span>') == 1
