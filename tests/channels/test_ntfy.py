"""The ntfy channel against a local server that checks what ntfy checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.header import decode_header
from typing import Any

import pytest
from quart import Quart

from app import create_app
from channels.base import Alert, ChannelConfigError
from channels.ntfy import MAX_BYTES, NtfyChannel, cut_to_bytes
from tests.channels.conftest import deliver, deliver_and_resolve
from tests.conftest import migrated_app
from tests.sample_channels import path
from tests.servers import HANG, Captured, ProviderSink, Reply

TOPIC, TOKEN = "herald-alerts", "tk_ntfytokennotforlogs"


def ntfy_check(request: Captured) -> Reply | None:
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        return Reply(401, {"code": 40101, "http": 401, "error": "unauthorized"})
    if request.path != f"/{TOPIC}":
        return Reply(404, {"code": 40401, "http": 404, "error": "page not found"})
    return None


@pytest.fixture(name="sink")
async def _sink() -> AsyncIterator[ProviderSink]:
    published = Reply(200, {"id": "hwQ2YpKdmg", "event": "message", "topic": TOPIC})
    async with ProviderSink(published, ntfy_check).serving() as sink:
        yield sink


@pytest.fixture(name="ntfy_settings")
def _ntfy_settings(settings: dict[str, Any], sink: ProviderSink) -> dict[str, Any]:
    settings.update(
        CHANNELS=[path(NtfyChannel)],
        NTFY_URL=sink.url,
        NTFY_TOPIC=TOPIC,
        NTFY_TOKEN=TOKEN,
        RETRY_MAX_ATTEMPTS=3,
        CHANNEL_TIMEOUT=0.5,
    )
    return settings


@pytest.fixture(name="app")
async def _app(ntfy_settings: dict[str, Any]) -> AsyncIterator[Quart]:
    app = await migrated_app(ntfy_settings)
    async with app.test_app():
        yield app


@pytest.mark.parametrize(
    ("severity", "priority", "tag"),
    [
        ("info", "3", "information_source"),
        ("warning", "4", "warning"),
        ("critical", "5", "rotating_light"),
    ],
)
async def test_publish_carries_title_priority_and_tags(
    app: Quart, sink: ProviderSink, severity: str, priority: str, tag: str
) -> None:
    delivery = await deliver(app, "ntfy", severity=severity, message="Disk 99% full")
    assert delivery.status == "sent"
    assert delivery.provider_ref == "hwQ2YpKdmg"
    [request] = sink.received
    assert request.method == "POST"
    assert request.body == b"Disk 99% full"
    assert request.headers["title"] == f"[{severity.upper()}] db1 disk"
    assert request.headers["priority"] == priority
    assert request.headers["tags"] == tag


async def test_non_ascii_title_is_rfc2047_encoded(app: Quart, sink: ProviderSink) -> None:
    await deliver(app, "ntfy", title="Überlast in Zürich")
    [(text, charset)] = decode_header(sink.received[0].headers["title"])
    assert isinstance(text, bytes)
    assert charset == "utf-8"
    assert text.decode() == "[CRITICAL] Überlast in Zürich"


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "=?utf-8?q?x=0D=0AX-Injected=3A_1?="},
        {"title": "", "message": "=?utf-8?b?eA0KWC1JbmplY3RlZDogMQ==?= rest"},
        {"title": "a\u2028b\x85c"},
    ],
    ids=["q-title", "b-untitled", "unicode"],
)
async def test_title_never_decodes_into_a_line_break(
    app: Quart, sink: ProviderSink, fields: dict[str, str]
) -> None:
    # ntfy decodes RFC 2047 words in its headers, as mail clients do.
    await deliver(app, "ntfy", **fields)
    title = sink.received[0].headers["title"]
    decoded = "".join(
        part.decode(charset or "ascii") if isinstance(part, bytes) else part
        for part, charset in decode_header(title)
    )
    assert not any(c in decoded for c in "\r\n\x85\u2028"), decoded


async def test_server_error_is_retried(app: Quart, sink: ProviderSink) -> None:
    sink.script.append(Reply(502, "bad gateway"))
    delivery = await deliver(app, "ntfy")
    assert (delivery.status, delivery.attempts) == ("sent", 2)


async def test_wrong_token_is_permanent(ntfy_settings: dict[str, Any]) -> None:
    app = await migrated_app({**ntfy_settings, "NTFY_TOKEN": "tk_wrong"})
    async with app.test_app():
        delivery = await deliver(app, "ntfy")
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.error == "PermanentDeliveryError: [40101] unauthorized"


async def test_hanging_server_times_out(app: Quart, sink: ProviderSink) -> None:
    sink.default = HANG
    delivery = await deliver(app, "ntfy")
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.error == "timed out after 0.5 s"


def test_long_messages_are_cut_to_4096_bytes_on_a_character_boundary() -> None:
    text = cut_to_bytes("é" * 3000, MAX_BYTES)
    assert len(text.encode()) <= MAX_BYTES
    assert text.endswith("\u2026")
    assert cut_to_bytes("short", MAX_BYTES) == "short"


def test_messages_over_the_limit_are_sent_cut(ntfy_settings: dict[str, Any]) -> None:
    channel = NtfyChannel(ntfy_settings)
    alert = Alert(1, "t", "x" * 10_000, "info", datetime.now(UTC))
    assert len(cut_to_bytes(alert.message, MAX_BYTES).encode()) == MAX_BYTES
    assert channel.url.endswith(f"/{TOPIC}")


@pytest.mark.parametrize(("change", "key"), [({"NTFY_TOPIC": None}, "NTFY_TOPIC")])
def test_bad_settings_are_refused_at_start_up(
    ntfy_settings: dict[str, Any], change: dict[str, Any], key: str
) -> None:
    with pytest.raises(ChannelConfigError, match=f"^{key}: required"):
        create_app({**ntfy_settings, **change}, env="testing")


async def test_firing_carries_a_link_and_an_acknowledge_action_resolved_a_low_priority(
    app: Quart, sink: ProviderSink
) -> None:
    firing, resolved = await deliver_and_resolve(app, "ntfy")
    assert (firing.status, resolved.status) == ("sent", "sent")
    first, last = sink.received
    page = f"http://127.0.0.1:8000/alerts/{firing.alert_id}"
    assert first.headers["click"] == page
    action, label, url, method, clear = first.headers["actions"].split(", ")
    assert (action, label, method, clear) == ("http", "Acknowledge", "method=POST", "clear=true")
    assert url.startswith("http://127.0.0.1:8000/ack/")
    assert last.headers["title"] == "[RESOLVED] db1 disk"
    assert (last.headers["priority"], last.headers["tags"]) == ("2", "white_check_mark")
    assert last.headers["click"] == page
    assert "actions" not in last.headers
