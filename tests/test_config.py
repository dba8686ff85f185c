"""Settings: environments, HERALD_* overrides, and validation that names the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import config
from app import create_app
from config import ConfigError


def test_default_environment_is_development() -> None:
    app = create_app()
    assert app.config["ENV"] == "development"
    assert app.config["CHANNELS"] == ["channels.console.ConsoleChannel"]
    assert app.config["CHANNEL_TIMEOUT"] == 10
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert app.config["DATABASE_URL"].endswith("/instance/herald.db")


@pytest.mark.parametrize(("env", "cls"), list(config.ENVIRONMENTS.items()))
def test_herald_env_picks_the_class(
    monkeypatch: pytest.MonkeyPatch, env: str, cls: type[config.Config]
) -> None:
    monkeypatch.setenv("HERALD_ENV", env)
    monkeypatch.setenv("HERALD_SECRET_KEY", "a-production-grade-secret-key")
    assert config.config_class() is cls
    assert create_app().config["ENV"] == env


def test_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_ENV", "staging")
    with pytest.raises(ConfigError, match="HERALD_ENV: unknown environment 'staging'"):
        create_app()


def test_prefixed_variables_are_json_parsed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HERALD_CHANNEL_TIMEOUT", "2.5")
    monkeypatch.setenv("HERALD_MAX_CONTENT_LENGTH", "2048")
    monkeypatch.setenv("HERALD_CHANNELS", '["tests.sample_channels.RecordingChannel"]')
    monkeypatch.setenv("HERALD_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/x.db")
    app = create_app()
    assert app.config["CHANNEL_TIMEOUT"] == 2.5
    assert app.config["MAX_CONTENT_LENGTH"] == 2048
    assert app.config["CHANNELS"] == ["tests.sample_channels.RecordingChannel"]
    assert app.config["DATABASE_URL"] == f"sqlite+aiosqlite:///{tmp_path}/x.db"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"DATABASE_URL": "herald.db"}, "DATABASE_URL"),
        ({"CHANNELS": []}, "CHANNELS"),
        ({"CHANNELS": "channels.console.ConsoleChannel"}, "CHANNELS"),
        ({"CHANNEL_TIMEOUT": 0}, "CHANNEL_TIMEOUT"),
        ({"CHANNEL_TIMEOUT": "10"}, "CHANNEL_TIMEOUT"),
        ({"CHANNEL_TIMEOUT": True}, "CHANNEL_TIMEOUT"),
        ({"MAX_CONTENT_LENGTH": -1}, "MAX_CONTENT_LENGTH"),
        ({"MAX_CONTENT_LENGTH": 1.5}, "MAX_CONTENT_LENGTH"),
    ],
)
def test_bad_settings_stop_start_up_naming_the_key(overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}: "):
        create_app(overrides)


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_ENV", "production")
    monkeypatch.setenv("HERALD_SECRET_KEY", config.DEV_SECRET_KEY)
    with pytest.raises(ConfigError, match=r"^SECRET_KEY: the development key is refused"):
        create_app()


def test_production_requires_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_ENV", "production")
    with pytest.raises(ConfigError, match=r"^SECRET_KEY: "):
        create_app()


def test_masked_hides_every_credential() -> None:
    shown = config.masked(
        {
            "SECRET_KEY": "s3cret",
            "SMTP_PASSWORD": "pw",
            "NTFY_TOKEN": "t",
            "CHANNEL_TIMEOUT": 10,
            "ADMIN_PASSWORD": None,
        }
    )
    assert shown == {
        "SECRET_KEY": "***",
        "SMTP_PASSWORD": "***",
        "NTFY_TOKEN": "***",
        "CHANNEL_TIMEOUT": 10,
        "ADMIN_PASSWORD": None,
    }


@pytest.mark.parametrize(
    "overrides",
    [
        {"CHANNEL_TIMEOUT": "soon"},
        {"LOGIN_RATE_LIMIT": "lots"},
        {"CHANNELS": ["channels.nowhere.Pager"]},
        {"CHANNELS": ["channels.ntfy.NtfyChannel"]},  # NTFY_TOPIC missing
        {"ROUTES": {"critical": ["pager"]}},
    ],
)
def test_every_bad_setting_is_one_kind_of_error(overrides: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        create_app(overrides, env="testing")
