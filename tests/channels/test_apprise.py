"""The Apprise channel, through Apprise's own JSON service, to a local HTTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart

from app import create_app
from channels.apprise import AppriseChannel
from channels.base import ChannelConfigError
from tests.channels.conftest import deliver
from tests.conftest import migrated_app
from tests.sample_channels import path
from tests.servers import HANG, ProviderSink, Reply


@pytest.fixture(name="sink")
async def _sink() -> AsyncIterator[ProviderSink]:
    async with ProviderSink(Reply(200, {"ok": True})).serving() as sink:
        yield sink


@pytest.fixture(name="apprise_settings")
def _apprise_settings(settings: dict[str, Any], sink: ProviderSink) -> dict[str, Any]:
    host = sink.url.removeprefix("http://")
    settings.update(
        CHANNELS=[path(AppriseChannel)],
        APPRISE_URLS=[f"json://{host}/first", f"json://{host}/second"],
        RETRY_MAX_ATTEMPTS=3,
        CHANNEL_TIMEOUT=5.0,
    )
    return settings


@pytest.fixture(name="app")
async def _app(apprise_settings: dict[str, Any]) -> AsyncIterator[Quart]:
    app = await migrated_app(apprise_settings)
    async with app.test_app():
        yield app


async def test_every_service_is_notified(app: Quart, sink: ProviderSink) -> None:
    delivery = await deliver(app, "apprise", severity="critical", message="Disk 99% full")
    assert delivery.status == "sent", delivery.error
    assert sorted(r.path for r in sink.received) == ["/first", "/second"]
    body = sink.received[0].json()
    assert body["title"] == "[CRITICAL] db1 disk"
    assert body["message"] == f"Disk 99% full\n\nhttp://127.0.0.1:8000/alerts/{delivery.alert_id}"
    assert body["type"] == "failure"


async def test_a_failed_service_is_retried_alone(app: Quart, sink: ProviderSink) -> None:
    sink.script.extend([Reply(200, {"ok": True}), Reply(500, "down")])
    delivery = await deliver(app, "apprise")
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert len(sink.received) == 3
    assert sink.received[2].path == sink.received[1].path


async def test_text_is_sent_as_text_and_escaped_for_html_services(
    apprise_settings: dict[str, Any], sink: ProviderSink
) -> None:
    host = sink.url.removeprefix("http://")
    settings = {**apprise_settings, "APPRISE_URLS": [f"json://{host}/html?format=html"]}
    app = await migrated_app(settings)
    async with app.test_app():
        delivery = await deliver(app, "apprise", message='<img src=x onerror="alert(1)"> & <b>')
    assert delivery.status == "sent", delivery.error
    message = sink.received[0].json()["message"]
    assert "<img" not in message
    assert "&lt;img" in message


async def test_a_failure_carries_apprises_reason(app: Quart, sink: ProviderSink) -> None:
    sink.default = Reply(503, "busy")
    delivery = await deliver(app, "apprise")
    assert delivery.status == "failed"
    assert "Apprise could not notify this service: " in str(delivery.error)
    assert "503" in str(delivery.error)


async def test_hanging_service_times_out(
    apprise_settings: dict[str, Any], sink: ProviderSink
) -> None:
    sink.default = HANG
    app = await migrated_app({**apprise_settings, "CHANNEL_TIMEOUT": 0.5, "RETRY_MAX_ATTEMPTS": 2})
    async with app.test_app():
        delivery = await deliver(app, "apprise")
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert delivery.error == "timed out after 0.5 s"


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        (None, "APPRISE_URLS: required"),
        ("json://x", "APPRISE_URLS: must be a list"),
        (["nonsense-scheme://x"], "APPRISE_URLS: entry 0 is not a URL Apprise knows"),
    ],
)
def test_bad_settings_are_refused_at_start_up(
    apprise_settings: dict[str, Any], urls: Any, message: str
) -> None:
    with pytest.raises(ChannelConfigError, match=message):
        create_app({**apprise_settings, "APPRISE_URLS": urls}, env="testing")
