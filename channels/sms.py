"""SMS through a Twilio-compatible REST API.

``POST {SMS_API_BASE}/2010-04-01/Accounts/{SMS_ACCOUNT_SID}/Messages.json`` with form fields
``To``, ``From`` and ``Body``, HTTP Basic auth (account SID, auth token); one request per
recipient. 201 means sent; 429 (code 20429) and 5xx are retried; other 4xx are permanent and
keep the provider's ``code`` and ``message``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import phonenumbers

from channels.base import Alert, ChannelConfigError, Receipt
from channels.fanout import FanOut
from channels.http import HttpChannel

MAX_BODY = 1600  # Twilio's limit for one message, in characters
ELLIPSIS = "\u2026"


def e164(number: Any, key: str) -> str:
    """``number`` in E.164 form; :class:`ChannelConfigError` naming ``key`` if it is not one."""
    try:
        parsed = phonenumbers.parse(str(number), None)
    except phonenumbers.NumberParseException as error:
        raise ChannelConfigError(f"{key}: {number!r} is not an E.164 number ({error})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ChannelConfigError(f"{key}: {number!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def sms_body(alert: Alert) -> str:
    """Subject, message and the alert's page, cut to 1600 characters: the message gives way,
    so the link stays whole."""
    link = f"\n{alert.url}" if alert.url else ""
    text = f"{alert.subject}\n{alert.message}"
    room = MAX_BODY - len(link)
    return (text if len(text) <= room else text[: room - 1] + ELLIPSIS) + link


class SmsChannel(HttpChannel):
    """Text messages to every number in ``SMS_TO``."""

    name = "sms"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        base = str(self.setting("SMS_API_BASE", "https://api.twilio.com")).rstrip("/")
        self.account_sid = str(self.setting("SMS_ACCOUNT_SID"))
        self._auth_token = str(self.setting("SMS_AUTH_TOKEN"))
        self.url = f"{base}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        self.sender = e164(self.setting("SMS_FROM"), "SMS_FROM")
        recipients = self.setting("SMS_TO")
        if not isinstance(recipients, list):
            raise ChannelConfigError("SMS_TO: must be a list of phone numbers")
        self.recipients = [e164(number, "SMS_TO") for number in recipients]
        self._fan_out = FanOut(self)

    def describe_failure(self, response: httpx.Response) -> tuple[str | int | None, str]:
        """Twilio's JSON error: ``{"code": 21211, "message": "..."}``."""
        try:
            body = response.json()
            return body.get("code") or response.status_code, str(body["message"])
        except (ValueError, KeyError, AttributeError):
            return super().describe_failure(response)

    async def _send_to(self, alert: Alert, number: str) -> str | None:
        form = {"To": number, "From": self.sender, "Body": sms_body(alert)}
        auth = (self.account_sid, self._auth_token)
        response = await self.request("POST", self.url, data=form, auth=auth)
        sid = response.json().get("sid")
        return str(sid) if sid else None

    async def send(self, alert: Alert) -> Receipt:
        """One message per recipient; numbers that already got this alert are skipped."""
        return await self._fan_out.send(
            alert, self.recipients, lambda number: self._send_to(alert, number)
        )
