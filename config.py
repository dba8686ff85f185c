"""Herald settings: defaults per environment, overridden by ``HERALD_``-prefixed variables.

``HERALD_ENV`` picks the class (``development`` by default). Any setting can then be overridden
by an environment variable named ``HERALD_<SETTING>``; its value is parsed as JSON when it can be
(``HERALD_CHANNEL_TIMEOUT=5`` is the number 5, ``HERALD_CHANNELS='["a.B"]'`` a list) and taken as a
string otherwise. Everything is checked once, in :func:`validate`, before the app serves.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"
DEV_SECRET_KEY = "herald-development-secret-key-change-me"  # noqa: S105 - refused in production
SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "PRIVATE_KEY")
SEVERITIES = ("info", "warning", "critical")  # as channels.base; config imports no app code
PUBLIC_URL = re.compile(r"https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?")


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names the key."""


class Config:
    """Defaults shared by every environment."""

    ENV = "base"
    DEBUG = False
    TESTING = False
    SECRET_KEY = DEV_SECRET_KEY
    DATABASE_URL = f"sqlite+aiosqlite:///{INSTANCE_DIR / 'herald.db'}"
    CHANNELS: ClassVar[list[str]] = ["channels.console.ConsoleChannel"]
    CHANNEL_TIMEOUT = 10.0
    RETRY_BASE = 1.0
    RETRY_MAX_DELAY = 60.0
    RETRY_MAX_ATTEMPTS = 5
    ROUTES: ClassVar[dict[str, list[str]] | None] = None
    LEASE_SECONDS = 30.0
    MAX_CONCURRENT_DELIVERIES = 100
    DISPATCH_POLL_INTERVAL = 1.0
    METRICS_TOKEN: str | None = None
    TRUSTED_PROXY_HOPS = 0  # proxies in front of Herald whose X-Forwarded-* headers count
    LOGIN_RATE_LIMIT = "5/minute"
    API_RATE_LIMIT = "600/minute"
    AUTH_FAILURE_LIMIT = "20/minute"  # wrong API or metrics tokens per client address
    REDIS_URL: str | None = None
    MAX_CONTENT_LENGTH = 1024 * 1024
    BODY_TIMEOUT = 30  # seconds a client may take to send its request body (then 408)
    ADMIN_PASSWORD: str | None = None
    APP_NAME = "Herald"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "herald_session"
    SESSION_LIFETIME = 12 * 3600  # seconds a sign-in lasts
    HSTS = False  # Strict-Transport-Security; on in production
    PROPAGATE_EXCEPTIONS = False  # errors always reach Herald's handlers, in tests too
    LOG_LEVEL = "INFO"
    REPEAT_INTERVAL = 4 * 3600  # seconds before a firing, unacknowledged alert is sent again
    SEND_RESOLVED = True  # tell the channels that were told it fires when an alert resolves
    PUBLIC_URL = "http://127.0.0.1:8000"  # where people reach Herald: links in notifications
    ACK_LINK_LIFETIME = 24 * 3600  # seconds a notification's acknowledge link works
    TOKEN_CACHE_SECONDS = 2.0  # how long a validated API token is remembered (0: not at all)


class DevelopmentConfig(Config):
    """Local use: `make run`."""

    ENV = "development"
    DEBUG = False  # Quart's debug mode adds nothing Herald needs and shows tracebacks.


class TestingConfig(Config):
    """The test suite; tests override DATABASE_URL and CHANNELS."""

    ENV = "testing"
    TESTING = True
    SECRET_KEY = "herald-testing-secret-key"  # noqa: S105
    DATABASE_URL = "sqlite+aiosqlite:///:memory:"
    CHANNEL_TIMEOUT = 2.0


class ProductionConfig(Config):
    """Serving real users: the secret key must come from the environment."""

    ENV = "production"
    SECRET_KEY = ""
    SESSION_COOKIE_SECURE = True
    HSTS = True


ENVIRONMENTS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_class(env: str | None = None) -> type[Config]:
    """Return the settings class named by ``env`` or ``HERALD_ENV`` (default development)."""
    name = env if env is not None else os.environ.get("HERALD_ENV", "development")
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        choices = ", ".join(ENVIRONMENTS)
        raise ConfigError(
            f"HERALD_ENV: unknown environment {name!r}; choose one of {choices}"
        ) from None


def _require(condition: bool, key: str, problem: str) -> None:
    if not condition:
        raise ConfigError(f"{key}: {problem}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate(settings: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the first key that is missing or has a wrong value."""
    secret = settings.get("SECRET_KEY")
    _require(isinstance(secret, str) and len(secret) >= 16, "SECRET_KEY", "must be 16+ characters")
    if settings.get("ENV") == "production":
        _require(secret != DEV_SECRET_KEY, "SECRET_KEY", "the development key is refused here")
        _require(not settings.get("DEBUG"), "DEBUG", "must be off in production")
        _require(
            settings.get("SESSION_COOKIE_SECURE") is True,
            "SESSION_COOKIE_SECURE",
            "must be true in production: session cookies travel over HTTPS only",
        )
    hops: Any = settings.get("TRUSTED_PROXY_HOPS")
    _require(_is_whole(hops) and hops >= 0, "TRUSTED_PROXY_HOPS", "must be 0 or more")
    lifetime: Any = settings.get("SESSION_LIFETIME")
    _require(_is_whole(lifetime) and lifetime > 0, "SESSION_LIFETIME", "must be whole seconds")
    url = settings.get("DATABASE_URL")
    _require(isinstance(url, str) and "://" in url, "DATABASE_URL", "must be a SQLAlchemy URL")
    channels = settings.get("CHANNELS")
    _require(
        isinstance(channels, list) and bool(channels) and all(isinstance(c, str) for c in channels),
        "CHANNELS",
        "must be a non-empty list of dotted class paths",
    )
    for key in (
        "CHANNEL_TIMEOUT",
        "RETRY_BASE",
        "RETRY_MAX_DELAY",
        "LEASE_SECONDS",
        "DISPATCH_POLL_INTERVAL",
    ):
        value: Any = settings.get(key)
        _require(_is_number(value) and value > 0, key, "must be a positive number of seconds")
    attempts: Any = settings.get("RETRY_MAX_ATTEMPTS")
    _require(_is_whole(attempts) and attempts >= 1, "RETRY_MAX_ATTEMPTS", "must be 1 or more")
    _validate_routes(settings.get("ROUTES"))
    lease: Any = settings.get("LEASE_SECONDS")
    _require(
        lease > settings["CHANNEL_TIMEOUT"],
        "LEASE_SECONDS",
        "must be longer than CHANNEL_TIMEOUT, or other processes take over sends in progress",
    )
    bound: Any = settings.get("MAX_CONCURRENT_DELIVERIES")
    _require(_is_whole(bound) and bound >= 1, "MAX_CONCURRENT_DELIVERIES", "must be 1 or more")
    body_timeout: Any = settings.get("BODY_TIMEOUT")
    _require(_is_number(body_timeout) and body_timeout > 0, "BODY_TIMEOUT", "must be seconds")
    _validate_lifecycle(settings)
    cache: Any = settings.get("TOKEN_CACHE_SECONDS")
    _require(
        _is_number(cache) and 0 <= cache <= 60, "TOKEN_CACHE_SECONDS", "must be 0 to 60 seconds"
    )
    limit: Any = settings.get("MAX_CONTENT_LENGTH")
    _require(
        _is_whole(limit) and limit > 0, "MAX_CONTENT_LENGTH", "must be a positive whole number"
    )


def _validate_lifecycle(settings: Mapping[str, Any]) -> None:
    for key in ("REPEAT_INTERVAL", "ACK_LINK_LIFETIME"):
        value: Any = settings.get(key)
        _require(_is_whole(value) and value > 0, key, "must be a positive whole number of seconds")
    _require(isinstance(settings.get("SEND_RESOLVED"), bool), "SEND_RESOLVED", "must be true/false")
    public: Any = settings.get("PUBLIC_URL")
    _require(
        isinstance(public, str) and PUBLIC_URL.fullmatch(public) is not None,
        "PUBLIC_URL",
        "must be an http(s) URL without query or fragment, such as https://herald.example",
    )


def _validate_routes(routes: object) -> None:
    if routes is None:
        return
    if not isinstance(routes, dict):
        raise ConfigError("ROUTES: must map severities to lists of channel names")
    for severity, names in routes.items():
        _require(severity in SEVERITIES, "ROUTES", f"unknown severity {severity!r}")
        _require(
            isinstance(names, list) and bool(names) and all(isinstance(n, str) for n in names),
            "ROUTES",
            f"{severity!r} must list at least one channel name",
        )


def masked(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``settings`` that is safe to log: secrets are replaced by ``'***'``."""
    return {key: "***" if is_secret(key) and value else value for key, value in settings.items()}


def is_secret(key: str) -> bool:
    """Tell whether the setting named ``key`` holds a credential that must never be shown."""
    return any(word in key for word in SECRET_WORDS)
