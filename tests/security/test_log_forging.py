"""Log forging: whatever a client or a provider sends, one log record is one line.

Herald runs under hypercorn as ``make run`` starts it, logging to a file; a request path, an
alert's text (the console channel logs it) and a provider's error body each carry line
breaks, NUL and Unicode line separators.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import httpx

from app.logs import FORMAT, EscapingFormatter, escape
from channels.console import ConsoleChannel
from channels.webhook import WebhookChannel
from tests.channels.test_webhook import SECRET
from tests.sample_channels import path
from tests.servers import HeraldProcess, ProviderSink, Reply, herald_env, wait_until

RECORD_START = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")
FORGED = "2026-01-01 00:00:00,000 CRITICAL herald.auth: admin logged in"


def assert_one_line_per_record(log: str) -> None:
    for line in log.splitlines():
        assert RECORD_START.match(line) or line.startswith("    "), f"forged line: {line!r}"


async def test_paths_alert_text_and_provider_bodies_cannot_forge_lines(
    settings: dict[str, Any], tmp_path: Path
) -> None:
    sink = ProviderSink(Reply(400, f"bad request\n{FORGED}\r\n\u2028{FORGED}"))
    async with sink.serving():
        env, token = await herald_env(
            settings,
            HERALD_CHANNELS=json.dumps([path(ConsoleChannel), path(WebhookChannel)]),
            HERALD_WEBHOOK_URLS=f'["{sink.url}/hook"]',
            HERALD_WEBHOOK_SECRET=SECRET,
            HERALD_LOG_LEVEL="INFO",
        )
        log = tmp_path / "herald.log"
        server = HeraldProcess(env, log).start()
        await server.ready()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                await client.get(f"/nothing%0A{FORGED.replace(' ', '%20')}")
                response = await client.post(
                    "/api/alerts",
                    json={"message": f"disk full\n{FORGED}\x1b\u2029{FORGED}"},
                    headers={"Authorization": f"Bearer {token}", "Prefer": "wait=10"},
                )
                assert response.status_code == 200, response.text
            await wait_until(lambda: "HTTP 400" in log.read_text(), 30, "the webhook's failure")
        finally:
            assert await server.stop() == 0
    text = log.read_text()
    assert_one_line_per_record(text)
    assert text.count("Running on") == 1  # hypercorn's line, written once
    assert f"disk full\\n{FORGED}\\x1b\\u2029{FORGED}" in text  # the console channel's line
    assert f"/nothing\\n{FORGED}" in text  # the access log's line


def test_a_traceback_keeps_its_lines_but_cannot_start_a_record() -> None:
    formatter = EscapingFormatter(FORMAT)
    try:
        raise ValueError(f"bad\n{FORGED}\r")
    except ValueError:
        record = logging.LogRecord("herald", logging.ERROR, "x", 1, "a\nb", None, sys.exc_info())
    text = formatter.format(record)
    lines = text.splitlines()
    assert RECORD_START.match(lines[0])
    assert lines[0].endswith("a\\nb")
    assert all(line.startswith("    ") for line in lines[1:])
    assert f"    {FORGED}\\r" in lines


def test_escape_writes_every_line_breaking_character_as_an_escape() -> None:
    assert escape("a\nb\rc\x00d\x85e\u2028f\u2029g\x1bh\x7f") == (
        "a\\nb\\rc\\x00d\\x85e\\u2028f\\u2029g\\x1bh\\x7f"
    )
    assert escape("Zürich ✓") == "Zürich ✓"
