"""Push notifications through ntfy (https://ntfy.sh or a self-hosted server).

``POST {NTFY_URL}/{NTFY_TOPIC}`` with the message as body and ``Title``, ``Priority`` and
``Tags`` headers; ``NTFY_TOKEN``, when set, is sent as a bearer token. ``Click`` opens the
alert's page, and a firing alert carries an "Acknowledge" action that POSTs its signed
acknowledge link. A resolved notification goes out at low priority.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.header import Header
from typing import Any

import httpx

from channels.base import Alert, Receipt
from channels.http import HttpChannel

MAX_BYTES = 4096  # ntfy's message limit; longer ones become attachments
ELLIPSIS = "\u2026"
PRIORITY = {"info": "3", "warning": "4", "critical": "5"}
TAGS = {"info": "information_source", "warning": "warning", "critical": "rotating_light"}
RESOLVED_PRIORITY = "2"
RESOLVED_TAGS = "white_check_mark"


def cut_to_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, ending with an ellipsis when cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode())
    return data[:room].decode(errors="ignore") + ELLIPSIS


def header_text(text: str) -> str:
    """A header value: as is when ASCII, else RFC 2047 encoded (which ntfy decodes)."""
    return text if text.isascii() else Header(text, "utf-8").encode()


class NtfyChannel(HttpChannel):
    """Publishes each alert to one ntfy topic."""

    name = "ntfy"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        base = str(self.setting("NTFY_URL", "https://ntfy.sh")).rstrip("/")
        self.url = f"{base}/{self.setting('NTFY_TOPIC')}"
        self._token: str | None = self.config.get("NTFY_TOKEN") or None

    def describe_failure(self, response: httpx.Response) -> tuple[str | int | None, str]:
        """ntfy's JSON error: ``{"code": 40101, "error": "..."}``."""
        try:
            body = response.json()
            return body.get("code") or response.status_code, str(body["error"])
        except (ValueError, KeyError, AttributeError):
            return super().describe_failure(response)

    async def send(self, alert: Alert) -> Receipt:
        """Publish the alert; the answer's ``id`` is kept as the reference."""
        headers = {
            "Title": header_text(alert.subject),
            "Priority": RESOLVED_PRIORITY if alert.resolved else PRIORITY[alert.severity],
            "Tags": RESOLVED_TAGS if alert.resolved else TAGS[alert.severity],
        }
        if alert.url:
            headers["Click"] = alert.url
        if alert.ack_url:  # ntfy's action syntax; the link holds no comma or semicolon
            headers["Actions"] = f"http, Acknowledge, {alert.ack_url}, method=POST, clear=true"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        body = cut_to_bytes(alert.message, MAX_BYTES).encode()
        response = await self.request("POST", self.url, content=body, headers=headers)
        try:
            reference = response.json().get("id")
        except ValueError:
            reference = None
        return Receipt(reference=str(reference) if reference else None)
