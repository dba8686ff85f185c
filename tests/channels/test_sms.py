"""The SMS channel against a local Twilio-compatible API that checks what Twilio checks."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart

from app import create_app
from channels.base import ChannelConfigError
from channels.sms import MAX_BODY, SmsChannel, sms_body
from tests.channels.conftest import deliver
from tests.conftest import migrated_app
from tests.sample_channels import path
from tests.servers import HANG, Captured, ProviderSink, Reply

SID, TOKEN = "AC0123456789abcdef0123456789abcdef", "auth-token-not-for-logs"
MESSAGES_PATH = f"/2010-04-01/Accounts/{SID}/Messages.json"
SENDER, RECIPIENTS = "+15005550006", ["+14155550100", "+447911123456"]


def twilio_check(request: Captured) -> Reply | None:
    """Refuse what Twilio refuses: wrong path, wrong credentials, missing fields."""
    expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    if request.headers.get("authorization") != expected:
        return Reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
    if request.path != MESSAGES_PATH or request.method != "POST":
        return Reply(404, {"code": 20404, "message": "Not found", "status": 404})
    if set(request.form()) != {"To", "From", "Body"}:
        return Reply(400, {"code": 21604, "message": "A 'To' phone number is required."})
    return None


def created(sid: str = "SM0001") -> Reply:
    return Reply(201, {"sid": sid, "status": "queued"})


@pytest.fixture(name="sink")
async def _sink() -> AsyncIterator[ProviderSink]:
    async with ProviderSink(created(), twilio_check).serving() as sink:
        yield sink


@pytest.fixture(name="sms_settings")
def _sms_settings(settings: dict[str, Any], sink: ProviderSink) -> dict[str, Any]:
    settings.update(
        CHANNELS=[path(SmsChannel)],
        SMS_API_BASE=sink.url,
        SMS_ACCOUNT_SID=SID,
        SMS_AUTH_TOKEN=TOKEN,
        SMS_FROM=SENDER,
        SMS_TO=RECIPIENTS,
        RETRY_MAX_ATTEMPTS=3,
        CHANNEL_TIMEOUT=0.5,
    )
    return settings


@pytest.fixture(name="app")
async def _app(sms_settings: dict[str, Any]) -> AsyncIterator[Quart]:
    app = await migrated_app(sms_settings)
    async with app.test_app():
        yield app


async def test_each_recipient_gets_one_request_twilio_accepts(
    app: Quart, sink: ProviderSink
) -> None:
    delivery = await deliver(app, "sms", title="db1 disk", message="Disk 99% full")
    page = f"http://127.0.0.1:8000/alerts/{delivery.alert_id}"
    assert delivery.status == "sent"
    assert delivery.attempts == 1
    assert delivery.provider_ref == "SM0001, SM0001"
    forms = sorted((r.form() for r in sink.received), key=lambda f: f["To"])
    assert forms == [
        {"To": to, "From": SENDER, "Body": f"[CRITICAL] db1 disk\nDisk 99% full\n{page}"}
        for to in sorted(RECIPIENTS)
    ]


async def test_rate_limit_is_retried_and_only_the_missing_recipient_is_sent_again(
    app: Quart, sink: ProviderSink
) -> None:
    too_many = Reply(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "0"})
    sink.script.extend([created("SM1"), too_many])
    delivery = await deliver(app, "sms")
    assert delivery.status == "sent"
    assert delivery.attempts == 2
    assert len(sink.received) == 3  # two numbers, then the one that was refused
    assert sink.received[2].form()["To"] == sink.received[1].form()["To"]


async def test_server_error_then_success_is_recorded_as_two_attempts(
    app: Quart, sink: ProviderSink
) -> None:
    sink.script.extend([Reply(503, "upstream down"), Reply(503, "upstream down")])
    delivery = await deliver(app, "sms")
    assert delivery.status == "sent"
    assert delivery.attempts == 2
    assert delivery.error is None


async def test_invalid_number_is_permanent_with_the_provider_code(
    app: Quart, sink: ProviderSink
) -> None:
    invalid = Reply(400, {"code": 21211, "message": "The 'To' number is not a valid phone number."})
    sink.script.extend([invalid, invalid])
    delivery = await deliver(app, "sms")
    assert delivery.status == "failed"
    assert delivery.attempts == 1
    assert len(sink.received) == 2  # not retried
    assert "[21211] The 'To' number is not a valid phone number." in str(delivery.error)
    assert TOKEN not in str(delivery.error)


async def test_wrong_credentials_are_permanent(sms_settings: dict[str, Any]) -> None:
    sms_settings["SMS_AUTH_TOKEN"] = "wrong"
    app = await migrated_app(sms_settings)
    async with app.test_app():
        delivery = await deliver(app, "sms")
    assert delivery.status == "failed"
    assert "[20003] Authenticate" in str(delivery.error)
    assert "wrong" not in str(delivery.error)


async def test_hanging_provider_times_out_and_is_retried_until_given_up(
    app: Quart, sink: ProviderSink
) -> None:
    sink.default = HANG
    delivery = await deliver(app, "sms")
    assert delivery.status == "failed"
    assert delivery.attempts == 3
    assert delivery.error == "timed out after 0.5 s"


def test_long_messages_are_cut_to_1600_characters() -> None:
    from datetime import UTC, datetime

    from channels.base import Alert

    body = sms_body(Alert(1, "t", "x" * 5000, "info", datetime.now(UTC)))
    assert len(body) == MAX_BODY
    assert body.endswith("\u2026")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SMS_ACCOUNT_SID": None}, "SMS_ACCOUNT_SID: required"),
        ({"SMS_AUTH_TOKEN": ""}, "SMS_AUTH_TOKEN: required"),
        ({"SMS_FROM": "5550006"}, "SMS_FROM: '5550006' is not an E.164 number"),
        ({"SMS_TO": ["+1415555010"]}, "SMS_TO: '+1415555010' is not a valid phone number"),
        ({"SMS_TO": "+14155550100"}, "SMS_TO: must be a list"),
        ({"SMS_TO": []}, "SMS_TO: required"),
    ],
)
def test_bad_settings_are_refused_at_start_up(
    sms_settings: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ChannelConfigError, match=message.replace("+", r"\+")):
        create_app({**sms_settings, **change}, env="testing")


def test_the_auth_token_is_not_in_the_channels_repr(sms_settings: dict[str, Any]) -> None:
    channel = SmsChannel(sms_settings)
    assert TOKEN not in repr(channel)


def test_the_link_to_the_alert_survives_the_cut() -> None:
    from datetime import UTC, datetime

    from channels.base import Alert

    url = "https://herald.example/alerts/1"
    body = sms_body(Alert(1, "t", "x" * 5000, "info", datetime.now(UTC), url=url))
    assert len(body) == MAX_BODY
    assert body.endswith("\u2026\n" + url)
