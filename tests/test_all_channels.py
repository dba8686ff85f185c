"""One alert through every channel at once, on a real hypercorn server, to real local sinks."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from app.auth import create_token
from app.db import get_db
from channels.apprise import AppriseChannel
from channels.email import EmailChannel
from channels.ntfy import NtfyChannel
from channels.slack import SlackChannel
from channels.sms import SmsChannel
from channels.webhook import WebhookChannel
from channels.webpush import WebPushChannel
from tests import webpush
from tests.channels import test_email, test_ntfy, test_sms, test_webhook
from tests.conftest import add_user, migrated_app
from tests.sample_channels import path
from tests.servers import ProviderSink, Reply, hypercorn_server
from tests.tls import make_tls_files

CHANNELS = [
    EmailChannel,
    SmsChannel,
    NtfyChannel,
    WebPushChannel,
    WebhookChannel,
    SlackChannel,
    AppriseChannel,
]


async def test_one_alert_reaches_every_sink(settings: dict[str, Any], tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        sms = await stack.enter_async_context(
            ProviderSink(test_sms.created("SM42"), test_sms.twilio_check).serving()
        )
        ntfy = await stack.enter_async_context(
            ProviderSink(Reply(200, {"id": "n1"}), test_ntfy.ntfy_check).serving()
        )
        hooks = await stack.enter_async_context(
            ProviderSink(Reply(204), test_webhook.receiver_check).serving()
        )
        slack = await stack.enter_async_context(ProviderSink(Reply(200, "ok")).serving())
        apprise = await stack.enter_async_context(ProviderSink(Reply(200, {})).serving())
        push = await stack.enter_async_context(webpush.PushService().serving())
        tls = make_tls_files(tmp_path)
        mailbox = test_email.Mailbox()
        smtp_port = await stack.enter_async_context(
            test_email.smtp_server(mailbox, test_email.server_context(tls), implicit=False)
        )
        settings.update(
            CHANNELS=[path(cls) for cls in CHANNELS],
            CHANNEL_TIMEOUT=5.0,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=smtp_port,
            SMTP_USERNAME=test_email.USER,
            SMTP_PASSWORD=test_email.PASSWORD,
            SMTP_CA_FILE=str(tls.ca),
            MAIL_FROM=test_email.MAIL_FROM,
            MAIL_TO=test_email.MAIL_TO,
            SMS_API_BASE=sms.url,
            SMS_ACCOUNT_SID=test_sms.SID,
            SMS_AUTH_TOKEN=test_sms.TOKEN,
            SMS_FROM=test_sms.SENDER,
            SMS_TO=test_sms.RECIPIENTS[:1],
            NTFY_URL=ntfy.url,
            NTFY_TOPIC=test_ntfy.TOPIC,
            NTFY_TOKEN=test_ntfy.TOKEN,
            VAPID_PRIVATE_KEY=webpush.VAPID_PRIVATE,
            VAPID_SUBJECT=webpush.SUBJECT,
            WEBHOOK_URLS=[f"{hooks.url}/hook"],
            WEBHOOK_SECRET=test_webhook.SECRET,
            SLACK_WEBHOOK_URL=f"{slack.url}/services/T/B/X",
            APPRISE_URLS=[f"json://{apprise.url.removeprefix('http://')}/apprise"],
        )
        app = await migrated_app(settings)
        async with get_db(app).connected() as database, database.session() as session:
            token = await create_token(session, await add_user(app, "ops"), "e2e")
        browser = webpush.Browser.new()
        base_url = await stack.enter_async_context(hypercorn_server(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
        )
        subscribed = await client.post(
            "/api/push/subscriptions", json=browser.subscription(f"{push.url}/push/e2e")
        )
        assert subscribed.status_code == 201

        response = await client.post(
            "/api/alerts",
            json={"title": "db1 disk", "message": "Disk 99% full", "severity": "critical"},
            headers={"Prefer": "wait=20"},
        )

        assert response.status_code == 200
        body = response.json()
        statuses = {d["channel"]: (d["status"], d["error"]) for d in body["deliveries"]}
        assert statuses == {cls.name: ("sent", None) for cls in CHANNELS}
        assert mailbox.messages[0][1]["Subject"] == "[CRITICAL] db1 disk"
        page = f"http://127.0.0.1:8000/alerts/{body['id']}"  # every notification links to it
        assert sms.received[0].form()["Body"] == f"[CRITICAL] db1 disk\nDisk 99% full\n{page}"
        assert ntfy.received[0].body == b"Disk 99% full"
        assert browser.decrypt(push.received[0].body)["body"] == "Disk 99% full"
        hook = hooks.received[0]
        signed = Webhook(test_webhook.SECRET).verify(hook.body, hook.headers)
        assert signed["data"]["id"] == body["id"]
        assert slack.received[0].json()["text"] == "[CRITICAL] db1 disk: Disk 99% full"
        assert apprise.received[0].json()["message"] == f"Disk 99% full\n\n{page}"
