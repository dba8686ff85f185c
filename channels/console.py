"""The default channel: one log line per alert, so a fresh Herald works with no provider."""

from __future__ import annotations

import logging

from channels.base import Alert, Channel

logger = logging.getLogger("herald.channels.console")
LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}


class ConsoleChannel(Channel):
    """Writes each alert to the ``herald.channels.console`` logger at the alert's severity."""

    name = "console"

    async def send(self, alert: Alert) -> None:
        """Log the alert as one line."""
        logger.log(
            LEVELS[alert.severity], "alert %s %s: %s", alert.id, alert.subject, alert.message
        )
