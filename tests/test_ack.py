"""Acknowledge links in notifications: they acknowledge one alert, without a sign-in, until
they expire or the alert is resolved; nothing else."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.alerts import get_alert
from app.db import get_db
from app.dispatch import get_dispatcher
from app.lifecycle import get_policy, record_alert, resolve
from app.links import SALT
from app.models import AlertRecord
from tests.sample_channels import RecordingChannel

SECRET = "herald-testing-secret-key"  # TestingConfig's


async def sent_alert(app: Quart) -> tuple[AlertRecord, str]:
    """An alert sent to the recording channel, and the acknowledge path it was given."""
    async with get_db(app).session() as session:
        record = await record_alert(
            session, message="disk full", channels=["recording"], source="t"
        )
    await get_dispatcher(app).dispatch_alert(record.id)
    channel = get_dispatcher(app).channels["recording"]
    assert isinstance(channel, RecordingChannel)
    [alert] = channel.received
    assert alert.url == f"http://127.0.0.1:8000/alerts/{record.id}"
    return record, urlsplit(alert.ack_url).path


async def state_of(app: Quart, alert_id: int) -> tuple[str, str | None]:
    async with get_db(app).session() as session:
        record = await get_alert(session, alert_id)
    assert record is not None
    return record.state, record.acknowledged_by


async def test_opening_the_link_shows_a_button_and_acknowledges_nothing(
    app: Quart, client: Client
) -> None:
    record, path = await sent_alert(app)
    page = await client.get(path)
    assert page.status_code == 200
    assert 'id="acknowledge"' in await page.get_data(as_text=True)
    assert await state_of(app, record.id) == ("firing", None)


async def test_the_button_acknowledges_without_a_sign_in(app: Quart, client: Client) -> None:
    record, path = await sent_alert(app)
    done = await client.post(path)  # as ntfy's action or the page's button sends it
    assert done.status_code == 200
    assert "Acknowledged by acknowledge link" in await done.get_data(as_text=True)
    assert await state_of(app, record.id) == ("acknowledged", "acknowledge link")


async def test_the_link_does_nothing_once_the_alert_is_resolved(app: Quart, client: Client) -> None:
    record, path = await sent_alert(app)
    async with get_db(app).session() as session:
        await resolve(session, record.id, get_policy(app))
    answer = await client.post(path)
    assert "nothing to acknowledge" in await answer.get_data(as_text=True)
    assert await state_of(app, record.id) == ("resolved", None)


class OldSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 2 * 86400  # two days ago: past ACK_LINK_LIFETIME


def token(
    payload: Any, *, salt: str = SALT, secret: str = SECRET, signer: Any = TimestampSigner
) -> str:
    return str(URLSafeTimedSerializer(secret, salt=salt, signer=signer).dumps(payload))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda r: token([r.id, r.uid], signer=OldSigner), "expired"),
        (lambda r: token([r.id, r.uid], salt="cookie-session"), "not a valid"),
        (lambda r: token([r.id, r.uid], secret="another-herald-secret-key"), "not a valid"),
        (lambda r: token([r.id, r.uid])[:-2] + "AA", "not a valid"),
        (lambda r: token({"alert": r.id}), "not a valid"),
        (lambda r: "not-a-token", "not a valid"),
    ],
)
async def test_links_that_are_old_forged_or_made_for_something_else_are_403(
    app: Quart, client: Client, make: Any, message: str
) -> None:
    record, _ = await sent_alert(app)
    answer = await client.post(f"/ack/{make(record)}")
    assert answer.status_code == 403
    assert message in await answer.get_data(as_text=True)
    assert await state_of(app, record.id) == ("firing", None)


async def test_a_link_for_an_alert_no_longer_kept_is_404(app: Quart, client: Client) -> None:
    record, _ = await sent_alert(app)
    answer = await client.get(f"/ack/{token([record.id, 'another-uid'])}")
    assert answer.status_code == 404


async def test_resolved_notifications_carry_no_acknowledge_link(app: Quart) -> None:
    record, _ = await sent_alert(app)
    async with get_db(app).session() as session:
        await resolve(session, record.id, get_policy(app))
    await get_dispatcher(app).dispatch_alert(record.id)
    channel = get_dispatcher(app).channels["recording"]
    assert isinstance(channel, RecordingChannel)
    resolved = channel.received[-1]
    assert (resolved.state, resolved.notification, resolved.ack_url) == ("resolved", "resolved", "")
    assert resolved.subject.startswith("[RESOLVED]")
