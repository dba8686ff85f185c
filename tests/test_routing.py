"""Routing by severity: ROUTES picks the channels unless the request names them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app import create_app
from config import ConfigError
from tests.conftest import migrated_app
from tests.sample_channels import FailingChannel, RecordingChannel, path

ROUTES = {"critical": ["recording", "failing"], "info": ["recording"]}


@pytest.fixture(name="app")
async def _app(settings: dict[str, Any]) -> AsyncIterator[Quart]:
    settings["ROUTES"] = ROUTES
    app = await migrated_app(settings)
    async with app.test_app():
        yield app


@pytest.mark.parametrize(
    ("body", "channels"),
    [
        ({"message": "m", "severity": "critical"}, ["recording", "failing"]),
        ({"message": "m", "severity": "info"}, ["recording"]),
        ({"message": "m", "severity": "warning"}, ["recording", "failing"]),  # unrouted: all
        ({"message": "m", "severity": "critical", "channels": ["failing"]}, ["failing"]),
    ],
)
async def test_routes_choose_channels_unless_the_request_names_them(
    client: Client, bearer: dict[str, str], body: dict[str, Any], channels: list[str]
) -> None:
    response = await client.post("/api/alerts", json=body, headers=bearer)
    assert response.status_code == 202
    assert [d["channel"] for d in (await response.get_json())["deliveries"]] == channels


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ({"critical": ["pager"]}, "ROUTES: 'critical' names unknown channel(s) pager"),
        ({"urgent": ["recording"]}, "ROUTES: unknown severity 'urgent'"),
        ({"info": []}, "ROUTES: 'info' must list at least one channel name"),
        (["recording"], "ROUTES: must map severities"),
    ],
)
def test_bad_routes_stop_start_up(settings: dict[str, Any], routes: Any, message: str) -> None:
    settings.update(CHANNELS=[path(RecordingChannel), path(FailingChannel)], ROUTES=routes)
    with pytest.raises(ConfigError) as caught:
        create_app(settings, env="testing")
    assert str(caught.value).startswith(message)


def test_routes_can_come_from_the_environment(
    settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_ROUTES", '{"info": ["recording"]}')
    app = create_app(settings, env="testing")
    assert app.config["ROUTES"] == {"info": ["recording"]}
