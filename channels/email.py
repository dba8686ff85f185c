"""Email over SMTP with aiosmtplib: a plain-text message with an HTML alternative.

The ``Message-ID`` is the same for every attempt at one alert, so receivers can drop
repeats; a title can never add headers because the subject is one sanitised line.
Recipients the server refuses are recorded; when it refuses them all the failure is final.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import aiosmtplib
from aiosmtplib.response import SMTPResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from channels.base import (
    Alert,
    Channel,
    ChannelConfigError,
    PermanentDeliveryError,
    Receipt,
    TransientDeliveryError,
)

SECURITY_PORTS = {"none": 25, "starttls": 587, "tls": 465}
COLOURS = {"info": "#1d5fa8", "warning": "#a15c00", "critical": "#b42318"}
RESOLVED_COLOUR = "#1a7f37"

_templates = Environment(
    loader=PackageLoader("channels", "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


def address(value: Any, key: str) -> str:
    """A bare email address from ``value``; :class:`ChannelConfigError` naming ``key``."""
    _, addr = parseaddr(str(value))
    local, _, domain = addr.rpartition("@")
    if not local or "." not in domain or any(c.isspace() for c in addr):
        raise ChannelConfigError(f"{key}: {value!r} is not an email address")
    return addr


class EmailChannel(Channel):
    """Mails each alert to every address in ``MAIL_TO``."""

    name = "email"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.host = str(self.setting("SMTP_HOST"))
        self.security = str(self.setting("SMTP_SECURITY", "starttls")).lower()
        if self.security not in SECURITY_PORTS:
            raise ChannelConfigError("SMTP_SECURITY: must be one of none, starttls, tls")
        port = self.setting("SMTP_PORT", SECURITY_PORTS[self.security])
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ChannelConfigError("SMTP_PORT: must be a port number")
        self.port = port
        self.username: str | None = config.get("SMTP_USERNAME") or None
        self._password: str | None = config.get("SMTP_PASSWORD") or None
        if bool(self.username) != bool(self._password):
            raise ChannelConfigError("SMTP_PASSWORD: SMTP_USERNAME and SMTP_PASSWORD go together")
        self.mail_from = str(self.setting("MAIL_FROM"))
        self.sender = address(self.mail_from, "MAIL_FROM")
        recipients = self.setting("MAIL_TO")
        if not isinstance(recipients, list):
            raise ChannelConfigError("MAIL_TO: must be a list of email addresses")
        self.recipients = [address(r, "MAIL_TO") for r in recipients]
        self._tls_context = self._make_tls_context(config.get("SMTP_CA_FILE"))
        self._timeout = float(config.get("CHANNEL_TIMEOUT") or 10)

    @staticmethod
    def _make_tls_context(ca_file: str | None) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=ca_file or None)
        except (OSError, ssl.SSLError) as error:
            raise ChannelConfigError(f"SMTP_CA_FILE: cannot load {ca_file!r}: {error}") from None

    def message_id(self, alert: Alert, notification_id: str | None = None) -> str:
        """``<notification-id.email@domain>``: the same for every attempt at one notification
        (the alert's uid for its first)."""
        domain = self.sender.rpartition("@")[2]
        return f"<{notification_id or alert.notification_id}.{self.name}@{domain}>"

    def build_message(self, alert: Alert) -> EmailMessage:
        """The MIME message: text/plain plus a text/html alternative."""
        message = EmailMessage()
        message["Subject"] = alert.subject
        message["From"] = self.mail_from
        message["To"] = ", ".join(self.recipients)
        message["Date"] = format_datetime(alert.created_at)
        message["Message-ID"] = self.message_id(alert)
        if alert.notification != "firing":  # mail clients thread it with the first
            first = self.message_id(alert, alert.uid or str(alert.id))
            message["In-Reply-To"] = first
            message["References"] = first
        message["X-Herald-Severity"] = alert.severity
        message["X-Herald-State"] = alert.state
        colour = RESOLVED_COLOUR if alert.resolved else COLOURS[alert.severity]
        context = {"alert": alert, "colour": colour}
        message.set_content(_templates.get_template("email/alert.txt").render(context))
        html = _templates.get_template("email/alert.html").render(context)
        message.add_alternative(html, subtype="html")
        return message

    async def _transmit(self, message: EmailMessage) -> dict[str, SMTPResponse]:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            tls_context=self._tls_context if self.security != "none" else None,
            timeout=self._timeout,
        )
        try:
            await client.connect()
            if self.username and self._password:
                await client.login(self.username, self._password)
            refused, _ = await client.send_message(
                message, sender=self.sender, recipients=self.recipients
            )
            await client.quit()
            return refused
        finally:
            # On a timeout or cancellation, drop the connection at once: a polite QUIT to a
            # server that stopped answering would hang.
            client.close()

    async def send(self, alert: Alert) -> Receipt:
        """Hand the message to the SMTP server; refused recipients go into the receipt."""
        try:
            refused = await self._transmit(self.build_message(alert))
        except aiosmtplib.SMTPRecipientsRefused as error:
            reasons = "; ".join(f"{e.recipient}: {e.code} {e.message}" for e in error.recipients)
            raise PermanentDeliveryError(f"every recipient was refused: {reasons}") from None
        except aiosmtplib.SMTPAuthenticationError as error:
            message = f"SMTP login refused: {error.message}"
            raise PermanentDeliveryError(message, code=error.code) from None
        except aiosmtplib.SMTPResponseException as error:
            kind = TransientDeliveryError if 400 <= error.code < 500 else PermanentDeliveryError
            raise kind(error.message, code=error.code) from None
        except (aiosmtplib.SMTPException, OSError) as error:
            raise TransientDeliveryError(f"SMTP {self.host}:{self.port}: {error}") from None
        detail = None
        if refused:
            detail = "refused: " + "; ".join(f"{r}: {c} {m}" for r, (c, m) in refused.items())
        return Receipt(reference=self.message_id(alert), detail=detail)
