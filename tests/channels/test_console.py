"""The default console channel."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from channels.base import Alert
from channels.console import ConsoleChannel


@pytest.mark.parametrize(
    ("severity", "level"),
    [("info", logging.INFO), ("warning", logging.WARNING), ("critical", logging.CRITICAL)],
)
async def test_one_log_line_per_alert_at_its_severity(
    caplog: pytest.LogCaptureFixture, severity: str, level: int
) -> None:
    alert = Alert(7, "Disk full", "db1 at 99%", severity, datetime.now(UTC))  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="herald.channels.console"):
        await ConsoleChannel({}).send(alert)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (level, f"alert 7 [{severity.upper()}] Disk full: db1 at 99%")
    ]


def test_subject_falls_back_to_the_first_line_of_the_message() -> None:
    alert = Alert(1, "", "first line\nsecond", "info", datetime.now(UTC))
    assert alert.subject == "[INFO] first line"
