"""Any of Apprise's ~100 services (https://github.com/caronc/Apprise) by URL.

Install the ``apprise`` extra and list the services in ``APPRISE_URLS``, e.g.
``["tgram://bottoken/ChatID", "json://hooks.example.com/alerts"]``. Alert text is handed over
as plain text, which Apprise escapes for services that speak HTML or Markdown. A failed URL
is retried (the ones that worked are not sent again), and its error is Apprise's own account
of the failure.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from channels.base import Alert, Channel, ChannelConfigError, Receipt, TransientDeliveryError
from channels.fanout import FanOut

try:
    import apprise
except ImportError:  # an optional extra
    apprise = None  # type: ignore[assignment]

NOTIFY_TYPES = {"info": "info", "warning": "warning", "critical": "failure"}
MAX_REASON = 300  # characters of Apprise's explanation kept in the delivery's error


class AppriseChannel(Channel):
    """Notifies every service in ``APPRISE_URLS``."""

    name = "apprise"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        if apprise is None:
            raise ChannelConfigError("APPRISE_URLS: install Herald's 'apprise' extra first")
        urls = self.setting("APPRISE_URLS")
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ChannelConfigError("APPRISE_URLS: must be a list of Apprise URLs")
        self._services: dict[str, Any] = {}
        for index, url in enumerate(urls):
            service = apprise.Apprise()
            if not service.add(url):
                raise ChannelConfigError(f"APPRISE_URLS: entry {index} is not a URL Apprise knows")
            self._services[str(index)] = service
        self._fan_out = FanOut(self)

    async def _notify(self, alert: Alert, key: str) -> str | None:
        result = await self._services[key].async_notify(
            body=f"{alert.message}\n\n{alert.url}" if alert.url else alert.message,
            title=alert.subject,
            notify_type="success" if alert.resolved else NOTIFY_TYPES[alert.severity],
            body_format=apprise.NotifyFormat.TEXT,
            log_level=logging.WARNING,  # what went wrong, kept with the result
        )
        if not result:
            reasons = [entry.message for service in result.results for entry in service.logs()]
            reason = " ".join(reasons)[:MAX_REASON] or "Apprise gave no reason"
            raise TransientDeliveryError(f"Apprise could not notify this service: {reason}")
        return None

    async def send(self, alert: Alert) -> Receipt:
        """Notify each service; services that already took this alert are skipped."""
        return await self._fan_out.send(
            alert,
            list(self._services),
            lambda key: self._notify(alert, key),
            label=lambda key: f"APPRISE_URLS[{key}]",
        )
