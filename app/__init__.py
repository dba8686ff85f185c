"""Herald: the application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hypercorn.middleware import ProxyFixMiddleware
from quart import Quart

import config as settings
from app import (
    ack,
    admin,
    api,
    auth,
    channelset,
    cli,
    db,
    dispatch,
    errors,
    hooks,
    ids,
    integrations,
    links,
    live,
    logs,
    metrics,
    openapi,
    ops,
    push,
    ratelimit,
    templating,
    tokencache,
    web,
    writer,
)
from app.middleware import RequestIdMiddleware
from channels.registry import build_channels


def create_app(overrides: Mapping[str, Any] | None = None, *, env: str | None = None) -> Quart:
    """Build a Herald app: settings for ``env`` (or ``HERALD_ENV``), then ``HERALD_*``, then
    ``overrides``; raises :class:`config.ConfigError` naming the first bad setting."""
    app = Quart(__name__)
    app.config.from_object(settings.config_class(env))
    app.config.from_prefixed_env(prefix="HERALD")
    app.config.update(overrides or {})
    settings.validate(app.config)
    logs.configure(app.config["LOG_LEVEL"])
    logging.getLogger("herald").debug("settings: %s", settings.masked(app.config))

    ids.init_app(app)  # before any blueprint adds a route that uses <id:...>
    db.init_app(app)
    links.init_app(app)
    channels = channelset.init_app(app, build_channels(app.config))
    writer.init_app(app)
    dispatch.init_app(app, channels)
    push.init_app(app)
    live.init_app(app)
    metrics.init_app(app)
    hooks.init_app(app)  # first of the request hooks: timing and request id for every answer
    auth.init_app(app)
    tokencache.init_app(app)
    ratelimit.init_app(app)
    errors.init_app(app)
    openapi.init_app(app)
    templating.init_app(app)
    cli.init_app(app)
    app.register_blueprint(web.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(ack.bp)
    integrations.init_app(app)
    app.asgi_app = RequestIdMiddleware(app.asgi_app)  # type: ignore[method-assign]
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:  # outermost, so that everything inside sees the client the proxies saw
        app.asgi_app = ProxyFixMiddleware(app.asgi_app, mode="legacy", trusted_hops=hops)  # type: ignore[method-assign]
    return app
