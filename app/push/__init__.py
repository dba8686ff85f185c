"""Web Push on the app's side: the subscription store the webpush channel sends to, the
routes browsers subscribe through, and the ``vapid-keys`` command, registered by one
:func:`init_app`. Without a webpush channel the routes answer 404 and the dashboard offers
no subscription."""

from __future__ import annotations

import click
from quart import Quart

from app.channelset import get_channels
from app.db import get_db
from app.push.store import DatabasePushStore
from app.push.views import bp
from channels.webpush import WebPushChannel, new_vapid_keys


@click.command("vapid-keys")
def vapid_keys_command() -> None:
    """Print a new VAPID key pair for the webpush channel."""
    private, public = new_vapid_keys()
    click.echo(f"HERALD_VAPID_PRIVATE_KEY={private}")
    click.echo(f"# public key (browsers fetch it from /api/push/vapid-public-key): {public}")


def init_app(app: Quart) -> None:
    """Hand the configured webpush channel its store; register the routes and the command."""
    channel = next((c for c in get_channels(app).values() if isinstance(c, WebPushChannel)), None)
    if channel is not None:
        channel.use_store(DatabasePushStore(get_db(app)))
    app.extensions["herald.webpush"] = channel

    @app.context_processor
    async def offer_push() -> dict[str, bool]:
        """Whether pages offer browsers a subscription."""
        return {"push_enabled": channel is not None}

    app.register_blueprint(bp)
    app.cli.add_command(vapid_keys_command)
