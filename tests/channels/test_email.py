"""The email channel against a real SMTP server (aiosmtpd) with STARTTLS, implicit TLS and AUTH."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import ssl
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from quart import Quart

from app import create_app
from channels.base import ChannelConfigError
from channels.email import EmailChannel
from tests.channels.conftest import deliver, deliver_and_resolve
from tests.conftest import migrated_app
from tests.sample_channels import path
from tests.servers import listening_socket
from tests.tls import TlsFiles, make_tls_files

USER, PASSWORD = "herald", "smtp-password-not-for-logs"
MAIL_FROM = "Herald <alerts@herald.example>"
MAIL_TO = ["ops@example.org", "oncall@example.org"]


@dataclass
class Mailbox:
    """The SMTP server's side: what it accepted, and answers it was told to give."""

    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered with 550
    data_replies: list[str] = field(default_factory=list)  # e.g. "451 try later", used once each
    hang: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.hang:
            await self.release.wait()
            return "421 closing"
        if self.data_replies:
            return self.data_replies.pop(0)
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 2.0.0 queued"


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    valid = isinstance(auth_data, LoginPassword) and auth_data == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=valid, handled=False)  # False: aiosmtpd answers 535 itself


@pytest.fixture(name="tls_files", scope="module")
def _tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def server_context(tls_files: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_files.cert, tls_files.key)
    return context


@asynccontextmanager
async def smtp_server(
    mailbox: Mailbox, tls: ssl.SSLContext, *, implicit: bool
) -> AsyncIterator[int]:
    """aiosmtpd on a loopback port requiring AUTH over TLS (STARTTLS, or TLS from the start)."""
    loop = asyncio.get_running_loop()
    sock = listening_socket()

    def protocol() -> SMTP:
        with warnings.catch_warnings():  # aiosmtpd warns about auth_require_tls=False
            warnings.simplefilter("ignore", UserWarning)
            return SMTP(
                mailbox,
                hostname="localhost",
                tls_context=None if implicit else tls,
                require_starttls=not implicit,
                auth_required=True,
                # aiosmtpd cannot tell that a connection began with TLS, only that it upgraded
                auth_require_tls=not implicit,
                authenticator=authenticate,
                loop=loop,
            )

    server = await loop.create_server(protocol, sock=sock, ssl=tls if implicit else None)
    try:
        yield sock.getsockname()[1]
    finally:
        mailbox.release.set()
        server.close()
        await server.wait_closed()


@pytest.fixture(name="mailbox")
def _mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture(name="smtp_port")
async def _smtp_port(mailbox: Mailbox, tls_files: TlsFiles) -> AsyncIterator[int]:
    async with smtp_server(mailbox, server_context(tls_files), implicit=False) as port:
        yield port


@pytest.fixture(name="email_settings")
def _email_settings(
    settings: dict[str, Any], smtp_port: int, tls_files: TlsFiles
) -> dict[str, Any]:
    settings.update(
        CHANNELS=[path(EmailChannel)],
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp_port,
        SMTP_SECURITY="starttls",
        SMTP_USERNAME=USER,
        SMTP_PASSWORD=PASSWORD,
        SMTP_CA_FILE=str(tls_files.ca),
        MAIL_FROM=MAIL_FROM,
        MAIL_TO=MAIL_TO,
        RETRY_MAX_ATTEMPTS=3,
        CHANNEL_TIMEOUT=1.0,
    )
    return settings


@pytest.fixture(name="app")
async def _app(email_settings: dict[str, Any]) -> AsyncIterator[Quart]:
    app = await migrated_app(email_settings)
    async with app.test_app():
        yield app


async def test_starttls_and_auth_deliver_a_multipart_message(app: Quart, mailbox: Mailbox) -> None:
    delivery = await deliver(app, "email", title="db1 disk", message="Disk <99%> full")
    assert delivery.status == "sent", delivery.error
    [(envelope, message)] = mailbox.messages
    assert envelope.mail_from == "alerts@herald.example"
    assert envelope.rcpt_tos == MAIL_TO
    assert message["Subject"] == "[CRITICAL] db1 disk"
    assert message["From"] == MAIL_FROM
    assert message["To"] == ", ".join(MAIL_TO)
    assert message["Date"]
    assert message["Message-ID"] == delivery.provider_ref
    assert message["Message-ID"].endswith(".email@herald.example>")
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert "Disk <99%> full" in plain.get_content()
    assert "Disk &lt;99%&gt; full" in html.get_content()  # escaped in the HTML part


async def test_message_id_is_stable_across_retries(app: Quart, mailbox: Mailbox) -> None:
    mailbox.data_replies.append("451 4.3.0 try again later")
    delivery = await deliver(app, "email")
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    second_id = mailbox.messages[0][1]["Message-ID"]
    again = EmailChannel(app.config).build_message(await _stored_alert(app, delivery.alert_id))[
        "Message-ID"
    ]
    assert second_id == again


async def _stored_alert(app: Quart, alert_id: int) -> Any:
    from app.alerts import get_alert
    from app.db import get_db

    async with get_db(app).session() as session:
        record = await get_alert(session, alert_id)
    assert record is not None
    return record.to_alert()


async def test_a_title_with_line_breaks_cannot_add_headers(app: Quart, mailbox: Mailbox) -> None:
    # The API refuses such titles; the channel must be safe even when handed one directly.
    channel = EmailChannel(app.config)
    alert = await _stored_alert(app, (await deliver(app, "email")).alert_id)
    from dataclasses import replace

    message = channel.build_message(replace(alert, title="hi\r\nBcc: victim@example.com"))
    assert message["Bcc"] is None
    assert message["Subject"] == "[CRITICAL] hi Bcc: victim@example.com"
    assert b"\r\nBcc:" not in message.as_bytes()


INJECTED = "x\r\nBcc: evil@example.com\r\nReply-To: evil@example.com\r\n\r\n<b>forged</b>"
Q_WORD = "=?utf-8?q?x=0D=0ABcc=3A_evil=40example.com?="
B_WORD = "=?utf-8?b?" + base64.b64encode(INJECTED.encode()).decode() + "?="
EXPECTED_HEADERS = {
    "subject",
    "from",
    "to",
    "date",
    "message-id",
    "x-herald-severity",
    "x-herald-state",
    "content-type",
    "mime-version",
}


@pytest.mark.parametrize(
    "fields",
    [
        {"title": Q_WORD},
        {"title": B_WORD},
        {"title": f"disk {B_WORD} full"},
        {"title": "", "message": f"{Q_WORD} and more\nsecond line"},
        {"title": "", "message": B_WORD},
        {"title": "a\u2028Bcc: evil@example.com\u2029b\x85c\x1cd"},
        {"title": "", "message": "a\x85Bcc: evil@example.com\x00"},
    ],
    ids=["q-title", "b-title", "b-inside-title", "q-untitled", "b-untitled", "unicode", "nul"],
)
async def test_no_header_decodes_into_a_line_break(
    app: Quart, mailbox: Mailbox, fields: dict[str, str]
) -> None:
    # Recorded directly, as if an API check were missing: the channel itself must hold.
    delivery = await deliver(app, "email", **fields)
    assert delivery.status == "sent", delivery.error
    [(envelope, message)] = mailbox.messages
    assert envelope.rcpt_tos == MAIL_TO
    assert {name.lower() for name in message} == EXPECTED_HEADERS
    assert message["From"] == MAIL_FROM
    assert message["Reply-To"] is None
    for name, value in message.items():  # policy.default decodes every encoded word
        assert not any(c in str(value) for c in "\r\n\x85\u2028\u2029"), (name, value)
    assert "forged" not in message["Subject"]


async def test_refused_recipients_are_recorded(app: Quart, mailbox: Mailbox) -> None:
    mailbox.refuse.add("oncall@example.org")
    delivery = await deliver(app, "email")
    assert delivery.status == "sent"
    assert delivery.detail is not None
    assert delivery.detail.startswith("refused: oncall@example.org: 550")
    assert mailbox.messages[0][0].rcpt_tos == ["ops@example.org"]


async def test_all_recipients_refused_is_permanent(app: Quart, mailbox: Mailbox) -> None:
    mailbox.refuse.update(MAIL_TO)
    delivery = await deliver(app, "email")
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "every recipient was refused" in str(delivery.error)


async def test_wrong_password_is_permanent_and_not_logged(
    email_settings: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    app = await migrated_app({**email_settings, "SMTP_PASSWORD": "wrong-password"})
    async with app.test_app():
        delivery = await deliver(app, "email")
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "SMTP login refused" in str(delivery.error)
    assert "wrong-password" not in str(delivery.error)
    assert "wrong-password" not in caplog.text


async def test_hanging_server_times_out_and_is_retried(app: Quart, mailbox: Mailbox) -> None:
    mailbox.hang = True
    delivery = await deliver(app, "email")
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.error == "timed out after 1 s"


async def test_untrusted_certificate_is_refused(email_settings: dict[str, Any]) -> None:
    app = await migrated_app({**email_settings, "SMTP_CA_FILE": None, "RETRY_MAX_ATTEMPTS": 1})
    async with app.test_app():
        delivery = await deliver(app, "email")
    assert delivery.status == "failed"
    assert "CERTIFICATE_VERIFY_FAILED" in str(delivery.error)


async def test_implicit_tls(email_settings: dict[str, Any], tls_files: TlsFiles) -> None:
    mailbox = Mailbox()
    async with smtp_server(mailbox, server_context(tls_files), implicit=True) as port:
        app = await migrated_app({**email_settings, "SMTP_PORT": port, "SMTP_SECURITY": "tls"})
        async with app.test_app():
            delivery = await deliver(app, "email")
    assert delivery.status == "sent", delivery.error
    assert len(mailbox.messages) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SMTP_HOST": None}, "SMTP_HOST: required"),
        ({"MAIL_FROM": None}, "MAIL_FROM: required"),
        ({"MAIL_FROM": "not an address"}, "MAIL_FROM: 'not an address' is not an email address"),
        ({"MAIL_TO": "ops@example.org"}, "MAIL_TO: must be a list"),
        ({"MAIL_TO": ["ops@"]}, "MAIL_TO: 'ops@' is not an email address"),
        ({"SMTP_SECURITY": "ssl3"}, "SMTP_SECURITY: must be one of"),
        ({"SMTP_PORT": "587"}, "SMTP_PORT: must be a port number"),
        ({"SMTP_PASSWORD": None}, "SMTP_PASSWORD: SMTP_USERNAME and SMTP_PASSWORD go together"),
        ({"SMTP_CA_FILE": "/nonexistent/ca.pem"}, "SMTP_CA_FILE: cannot load"),
    ],
)
def test_bad_settings_are_refused_at_start_up(
    email_settings: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ChannelConfigError, match=message):
        create_app({**email_settings, **change}, env="testing")


async def test_the_resolved_message_says_so_and_threads_with_the_first(
    app: Quart, mailbox: Mailbox
) -> None:
    firing, resolved = await deliver_and_resolve(app, "email")
    assert (firing.status, resolved.status) == ("sent", "sent")
    [(_, first), (_, last)] = mailbox.messages
    assert last["Subject"] == "[RESOLVED] db1 disk"
    assert last["Message-ID"] != first["Message-ID"]
    assert last["In-Reply-To"] == last["References"] == first["Message-ID"]
    assert last["X-Herald-State"] == "resolved"
    first_text = first.get_body(("plain",))
    last_text = last.get_body(("plain",))
    assert first_text is not None
    assert last_text is not None
    assert "Acknowledge (stops repeats): http://127.0.0.1:8000/ack/" in first_text.get_content()
    assert f"Details:  http://127.0.0.1:8000/alerts/{firing.alert_id}" in first_text.get_content()
    assert "This alert is resolved." in last_text.get_content()
    assert "/ack/" not in last_text.get_content()
