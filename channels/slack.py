"""Slack (and Slack-compatible) incoming webhooks: ``POST SLACK_WEBHOOK_URL``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from channels.base import Alert, ChannelConfigError, PermanentDeliveryError, Receipt
from channels.http import HttpChannel, origin

EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}
MAX_SECTION = 3000  # Slack's limit for a section block's text
MAX_TEXT = 40000  # Slack's limit for a message's top-level text


def escape(text: str, limit: int | None = None) -> str:
    """Slack's escaping of ``&``, ``<`` and ``>`` (so that no text can become a link or a
    mention such as ``<!channel>``), cut to ``limit`` characters without halving an entity."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if limit is None or len(escaped) <= limit:
        return escaped
    cut = escaped[:limit]
    entity = cut.rfind("&", max(0, limit - 4))  # "&amp;" is the longest: 5 characters
    return cut[:entity] if entity != -1 and ";" not in cut[entity:] else cut


def context_line(alert: Alert) -> str:
    """Severity (or resolved), the alert's number linked to its page, and the acknowledge
    link while it fires."""
    state = (
        ":white_check_mark: resolved"
        if alert.resolved
        else f"{EMOJI[alert.severity]} {alert.severity}"
    )
    number = f"<{escape(alert.url)}|alert #{alert.id}>" if alert.url else f"alert #{alert.id}"
    acknowledge = f" · <{escape(alert.ack_url)}|acknowledge>" if alert.ack_url else ""
    return f"{state} · {number}{acknowledge}"


def slack_payload(alert: Alert) -> dict[str, Any]:
    """A ``text`` fallback for notifications and ``blocks`` for the message itself; Slack
    formats both, so both are escaped."""
    return {
        "text": escape(f"{alert.subject}: {alert.message}", MAX_TEXT),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": alert.subject[:150]}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": escape(alert.message, MAX_SECTION)},
            },
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": context_line(alert)},
                ],
            },
        ],
    }


class SlackChannel(HttpChannel):
    """Posts each alert to one incoming webhook."""

    name = "slack"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self._url = str(self.setting("SLACK_WEBHOOK_URL"))
        if not self._url.startswith(("https://", "http://")):
            raise ChannelConfigError("SLACK_WEBHOOK_URL: must be an http(s) URL")

    def describe_failure(self, response: httpx.Response) -> tuple[str | int | None, str]:
        """Slack answers errors as a short plain-text code such as ``invalid_payload``."""
        code = response.text.strip()[:100] or response.status_code
        return code, f"HTTP {response.status_code} from {origin(self._url)}"

    async def send(self, alert: Alert) -> Receipt:
        """Post the alert; Slack says ``ok`` when it took it."""
        response = await self.request("POST", self._url, json=slack_payload(alert))
        if response.text.strip() != "ok":
            body = response.text.strip()[:100]
            raise PermanentDeliveryError(f"unexpected answer from {origin(self._url)}: {body!r}")
        return Receipt()
