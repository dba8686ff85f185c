"""Signed webhooks, verified the way a receiver verifies them (Standard Webhooks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app import create_app
from app.db import get_db
from app.dispatch import get_dispatcher
from app.lifecycle import record_alert
from channels.base import ChannelConfigError
from channels.webhook import WebhookChannel
from tests.channels.conftest import deliver, deliver_and_resolve
from tests.conftest import migrated_app
from tests.sample_channels import path
from tests.servers import HANG, Captured, ProviderSink, Reply

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def receiver_check(request: Captured) -> Reply | None:
    """What a receiver does first: refuse anything whose signature does not verify."""
    try:
        Webhook(SECRET).verify(request.body, request.headers)
    except WebhookVerificationError:
        return Reply(401, "bad signature")
    return None


@pytest.fixture(name="sink")
async def _sink() -> AsyncIterator[ProviderSink]:
    async with ProviderSink(Reply(204), receiver_check).serving() as sink:
        yield sink


@pytest.fixture(name="hook_settings")
def _hook_settings(settings: dict[str, Any], sink: ProviderSink) -> dict[str, Any]:
    settings.update(
        CHANNELS=[path(WebhookChannel)],
        WEBHOOK_URLS=[f"{sink.url}/hooks/a", f"{sink.url}/hooks/b"],
        WEBHOOK_SECRET=SECRET,
        RETRY_MAX_ATTEMPTS=3,
        CHANNEL_TIMEOUT=0.5,
    )
    return settings


@pytest.fixture(name="app")
async def _app(hook_settings: dict[str, Any]) -> AsyncIterator[Quart]:
    app = await migrated_app(hook_settings)
    async with app.test_app():
        yield app


async def test_every_url_gets_a_verifiable_signed_payload(app: Quart, sink: ProviderSink) -> None:
    delivery = await deliver(app, "webhook", message="Disk 99% full")
    assert delivery.status == "sent"
    assert sorted(r.path for r in sink.received) == ["/hooks/a", "/hooks/b"]
    for request in sink.received:
        payload = Webhook(SECRET).verify(request.body, request.headers)
        assert payload["type"] == "alert.created"
        assert payload["data"]["message"] == "Disk 99% full"
        assert payload["data"]["severity"] == "critical"
        assert request.headers["webhook-id"] == f"msg_{payload['data']['uid']}"
        assert request.headers["content-type"] == "application/json"


async def test_a_retry_keeps_the_webhook_id_and_skips_the_url_that_took_it(
    app: Quart, sink: ProviderSink
) -> None:
    sink.script.extend([Reply(204), Reply(500, "oops")])
    delivery = await deliver(app, "webhook")
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert len(sink.received) == 3
    assert len({r.headers["webhook-id"] for r in sink.received}) == 1
    assert sink.received[2].path == sink.received[1].path  # only the failed URL again


async def test_a_retry_claimed_by_another_process_skips_the_url_that_took_it(
    hook_settings: dict[str, Any],
) -> None:
    failed_once: list[str] = []

    def b_fails_once(request: Captured) -> Reply | None:
        if request.path == "/hooks/b" and not failed_once:
            failed_once.append(request.path)
            return Reply(503, "busy")
        return receiver_check(request)

    async with ProviderSink(Reply(204), b_fails_once).serving() as sink:
        hook_settings["WEBHOOK_URLS"] = [f"{sink.url}/hooks/a", f"{sink.url}/hooks/b"]
        hook_settings["RETRY_BASE"] = 0.01
        first = await migrated_app(hook_settings)
        # no background loops: the test decides which process makes which attempt
        async with get_db(first).connected() as database, get_dispatcher(first).running() as one:
            async with database.session() as session:
                record = await record_alert(session, message="m", channels=["webhook"], source="t")
            [claim] = await one._claim(10)
            await one._process((await one.queue.alerts({record.id}))[record.id], claim)
        assert sorted(r.path for r in sink.received) == ["/hooks/a", "/hooks/b"]
        second = create_app(hook_settings, env="testing")  # another process: nothing in memory
        async with get_db(second).connected(), get_dispatcher(second).running() as other:
            [outcome] = await other.dispatch_alert(record.id)
    assert (outcome.status, outcome.attempts) == ("sent", 2)
    assert [r.path for r in sink.received[2:]] == ["/hooks/b"]


async def test_wrong_secret_is_refused_by_the_receiver_permanently(
    hook_settings: dict[str, Any],
) -> None:
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    app = await migrated_app({**hook_settings, "WEBHOOK_SECRET": other})
    async with app.test_app():
        delivery = await deliver(app, "webhook")
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "HTTP 401" in str(delivery.error)


async def test_hanging_receiver_times_out(app: Quart, sink: ProviderSink) -> None:
    sink.default = HANG
    delivery = await deliver(app, "webhook")
    assert (delivery.status, delivery.attempts) == ("failed", 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"WEBHOOK_SECRET": None}, "WEBHOOK_SECRET: required"),
        ({"WEBHOOK_SECRET": "plain-secret"}, "WEBHOOK_SECRET: must be a 'whsec_' secret"),
        ({"WEBHOOK_SECRET": "whsec_!!"}, "WEBHOOK_SECRET: needs base64 key bytes"),
        ({"WEBHOOK_SECRET": "whsec_a"}, "WEBHOOK_SECRET: needs base64 key bytes"),
        ({"WEBHOOK_URLS": "https://a.example"}, "WEBHOOK_URLS: must be a list"),
        ({"WEBHOOK_URLS": ["ftp://a.example"]}, "WEBHOOK_URLS: must be a list"),
    ],
)
def test_bad_settings_are_refused_at_start_up(
    hook_settings: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ChannelConfigError, match=message):
        create_app({**hook_settings, **change}, env="testing")


async def test_the_resolved_notification_is_its_own_signed_event(
    app: Quart, sink: ProviderSink
) -> None:
    firing, resolved = await deliver_and_resolve(app, "webhook")
    assert (firing.status, resolved.status, resolved.notification) == ("sent", "sent", "resolved")
    events = [Webhook(SECRET).verify(r.body, r.headers) for r in sink.received]
    assert [e["type"] for e in events] == ["alert.created"] * 2 + ["alert.resolved"] * 2
    assert [e["data"]["state"] for e in events] == ["firing"] * 2 + ["resolved"] * 2
    ids = [r.headers["webhook-id"] for r in sink.received]
    assert ids[0] == ids[1] != ids[2] == ids[3]  # receivers drop repeats of one notification only
    assert events[0]["data"]["url"] == f"http://127.0.0.1:8000/alerts/{firing.alert_id}"
