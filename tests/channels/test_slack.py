"""The Slack channel against a local incoming-webhook server that answers as Slack does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart

from app import create_app
from channels.base import ChannelConfigError
from channels.slack import SlackChannel, escape
from tests.channels.conftest import deliver, deliver_and_resolve
from tests.conftest import migrated_app
from tests.sample_channels import path
from tests.servers import HANG, Captured, ProviderSink, Reply

HOOK_PATH = "/services/T000/B000/XXXXSECRETXXXX"


def slack_check(request: Captured) -> Reply | None:
    if request.path != HOOK_PATH:
        return Reply(404, "no_service")
    payload = request.json()
    if not isinstance(payload.get("text"), str) or not isinstance(payload.get("blocks"), list):
        return Reply(400, "invalid_payload")
    return None


@pytest.fixture(name="sink")
async def _sink() -> AsyncIterator[ProviderSink]:
    async with ProviderSink(Reply(200, "ok"), slack_check).serving() as sink:
        yield sink


@pytest.fixture(name="slack_settings")
def _slack_settings(settings: dict[str, Any], sink: ProviderSink) -> dict[str, Any]:
    settings.update(
        CHANNELS=[path(SlackChannel)],
        SLACK_WEBHOOK_URL=sink.url + HOOK_PATH,
        RETRY_MAX_ATTEMPTS=3,
        CHANNEL_TIMEOUT=0.5,
    )
    return settings


@pytest.fixture(name="app")
async def _app(slack_settings: dict[str, Any]) -> AsyncIterator[Quart]:
    app = await migrated_app(slack_settings)
    async with app.test_app():
        yield app


async def test_message_has_text_and_blocks(app: Quart, sink: ProviderSink) -> None:
    delivery = await deliver(app, "slack", message="Disk <99%> & rising")
    assert delivery.status == "sent"
    payload = sink.received[0].json()
    assert payload["text"] == "[CRITICAL] db1 disk: Disk &lt;99%&gt; &amp; rising"
    header, section, context = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[CRITICAL] db1 disk"},
    }
    assert section["text"] == {"type": "mrkdwn", "text": "Disk &lt;99%&gt; &amp; rising"}
    assert context["elements"][0]["text"].startswith(":rotating_light: critical")


async def test_alert_text_cannot_mention_everyone_or_link(app: Quart, sink: ProviderSink) -> None:
    await deliver(app, "slack", title="<!channel> look", message="<!here> <https://evil|click>")
    payload = sink.received[0].json()
    for text in (payload["text"], payload["blocks"][1]["text"]["text"]):
        assert "<" not in text
        assert ">" not in text
    assert (
        payload["text"]
        == "[CRITICAL] &lt;!channel&gt; look: &lt;!here&gt; &lt;https://evil|click&gt;"
    )


@pytest.mark.parametrize("limit", range(10, 20))
def test_cutting_never_halves_an_entity(limit: int) -> None:
    cut = escape("a" * 8 + "&<>&<>", limit)
    assert len(cut) <= limit
    assert cut.count("&") == cut.count(";")


async def test_rate_limit_is_retried(app: Quart, sink: ProviderSink) -> None:
    sink.script.append(Reply(429, "rate_limited", {"Retry-After": "0"}))
    delivery = await deliver(app, "slack")
    assert (delivery.status, delivery.attempts) == ("sent", 2)


@pytest.mark.parametrize("code", ["invalid_payload", "channel_not_found", "action_prohibited"])
async def test_slack_errors_are_permanent(app: Quart, sink: ProviderSink, code: str) -> None:
    sink.script.append(Reply(404 if code == "channel_not_found" else 400, code))
    delivery = await deliver(app, "slack")
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert f"[{code}]" in str(delivery.error)
    assert "XXXXSECRETXXXX" not in str(delivery.error)  # the webhook URL is a credential


async def test_hanging_server_times_out(app: Quart, sink: ProviderSink) -> None:
    sink.default = HANG
    delivery = await deliver(app, "slack")
    assert (delivery.status, delivery.attempts) == ("failed", 3)


@pytest.mark.parametrize(
    ("value", "message"),
    [(None, "SLACK_WEBHOOK_URL: required"), ("hooks.slack.com/x", "must be an http")],
)
def test_bad_settings_are_refused_at_start_up(
    slack_settings: dict[str, Any], value: str | None, message: str
) -> None:
    with pytest.raises(ChannelConfigError, match=message):
        create_app({**slack_settings, "SLACK_WEBHOOK_URL": value}, env="testing")


async def test_links_to_the_alert_and_the_acknowledge_link_then_says_resolved(
    app: Quart, sink: ProviderSink
) -> None:
    firing, resolved = await deliver_and_resolve(app, "slack")
    assert (firing.status, resolved.status) == ("sent", "sent")
    first, last = (request.json() for request in sink.received)
    context = first["blocks"][2]["elements"][0]["text"]
    page = f"http://127.0.0.1:8000/alerts/{firing.alert_id}"
    assert f"<{page}|alert #{firing.alert_id}>" in context
    assert "<http://127.0.0.1:8000/ack/" in context
    assert last["text"].startswith("[RESOLVED] db1 disk")
    last_context = last["blocks"][2]["elements"][0]["text"]
    assert last_context.startswith(":white_check_mark: resolved")
    assert "/ack/" not in last_context
