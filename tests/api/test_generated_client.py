"""A client generated from /openapi.json by openapi-python-client works against a real server:
the document is one that code generators read without warnings and without dropping answers."""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.api.test_contract import prepare
from tests.servers import HeraldProcess

BIN = Path(sys.executable).parent


@pytest.fixture(name="herald_api")
def _herald_api(tmp_path: Path) -> Iterator[tuple[str, str]]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
    token = asyncio.run(prepare(database_url))
    env = {"HERALD_DATABASE_URL": database_url, "HERALD_LOG_LEVEL": "WARNING"}
    with HeraldProcess(env, tmp_path / "herald.log").running() as server:
        yield server.url, token


def generated_client(url: str, directory: Path) -> ModuleType:
    """Generate the client package from the live document and import it."""
    document = directory / "openapi.json"
    document.write_bytes(httpx.get(f"{url}/openapi.json", timeout=30).content)
    output_path = str(directory / "herald_client")
    command = [str(BIN / "openapi-python-client"), "generate", "--path", str(document)]
    result = subprocess.run(
        [*command, "--meta", "none", "--output-path", output_path],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},  # its ruff
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module("herald_client")
    finally:
        sys.path.remove(str(directory))


def test_a_generated_client_sends_fetches_and_lists_an_alert(
    herald_api: tuple[str, str], tmp_path: Path
) -> None:
    url, token = herald_api
    package = generated_client(url, tmp_path)
    api: Any = importlib.import_module("herald_client.api.default")
    models: Any = importlib.import_module("herald_client.models")
    for name in ("post_create_alert", "get_read_alert", "get_list_alerts"):
        importlib.import_module(f"herald_client.api.default.{name}")
    with package.AuthenticatedClient(base_url=url, token=token) as client:
        use_the_api(client, api, models)


def use_the_api(client: Any, api: Any, models: Any) -> None:
    sent = api.post_create_alert.sync_detailed(
        client=client,
        body=models.AlertIn(message="from a generated client", title="codegen"),
        idempotency_key="generated-client-1",
    )
    assert sent.status_code == 202
    assert isinstance(sent.parsed, models.AlertOut)  # the 202 answer is part of the client
    assert sent.headers["Location"] == f"/api/alerts/{sent.parsed.id}"
    assert sent.parsed.created_at.tzinfo is not None  # a date-time, parsed as one

    again = api.post_create_alert.sync_detailed(
        client=client,
        body=models.AlertIn(message="from a generated client", title="codegen"),
        idempotency_key="generated-client-1",
    )
    assert (again.status_code, again.parsed.id) == (200, sent.parsed.id)

    fetched = api.get_read_alert.sync(alert_id=sent.parsed.id, client=client)
    assert (fetched.id, fetched.title) == (sent.parsed.id, "codegen")
    listing = api.get_list_alerts.sync(client=client)
    assert [alert.id for alert in listing.alerts] == [sent.parsed.id]

    missing = api.get_read_alert.sync_detailed(alert_id=404, client=client)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.ErrorOut)  # every error status is typed too
