"""Command-line tools: ``quart --app asgi migrate|purge|create-user|create-token|send-alert``
(``vapid-keys`` comes with Web Push, app/push/)."""

from __future__ import annotations

import asyncio
import re
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TypeVar

import click
from quart import Quart
from quart.cli import ScriptInfo, pass_script_info
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from app import idempotency
from app.alerts import UnknownChannelError, channels_for
from app.auth import MIN_PASSWORD, create_token, create_user, user_named
from app.channelset import get_channels
from app.db import Database, get_db
from app.dispatch import get_dispatcher
from app.lifecycle import record_alert
from app.models import FINAL_STATUSES, AlertRecord, Delivery, User, utcnow
from channels.base import SEVERITIES

T = TypeVar("T")
ADMIN_USERNAME = "admin"


def run(app: Quart, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` with the app's database open, inside an app context."""

    async def main() -> T:
        async with app.app_context():
            database = get_db(app)
            async with database.connected():
                return await work(database)

    return asyncio.run(main())


def read_password(prompt: str) -> str:
    """A password from a hidden prompt, or one line of stdin when it is not a terminal."""
    if sys.stdin.isatty():
        password: str = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"the password must have at least {MIN_PASSWORD} characters")
    return password


async def ensure_admin(database: Database, password: str | None) -> None:
    """Create ``admin`` on a database with no users, with ``password`` or a generated one."""
    async with database.session() as session:
        if await session.scalar(select(func.count()).select_from(User)):
            return
        generated = None if password else secrets.token_urlsafe(12)
        await create_user(session, ADMIN_USERNAME, password or str(generated), is_admin=True)
    if generated:
        click.echo(f"Created user '{ADMIN_USERNAME}' with password: {generated}")
        click.echo("It is shown only this once; keep it somewhere safe.")
    else:
        click.echo(f"Created user '{ADMIN_USERNAME}' with the password in HERALD_ADMIN_PASSWORD.")


DURATION = re.compile(r"(\d+)([smhdw])")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w`` or ``45s`` as a timedelta."""
    match = DURATION.fullmatch(value.strip())
    if match is None or int(match.group(1)) == 0:
        raise click.BadParameter("use a number and a unit, such as 30d, 12h, 90m or 2w")
    return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])


@click.command("migrate")
@pass_script_info
def migrate(info: ScriptInfo) -> None:
    """Apply the database migrations; create 'admin' on a fresh database."""
    app = info.load_app()

    async def work(database: Database) -> None:
        await database.migrate()
        click.echo(f"Database is up to date: {database.url.render_as_string()}")
        await ensure_admin(database, app.config.get("ADMIN_PASSWORD"))

    run(app, work)


@click.command("purge")
@click.option(
    "--older-than", "older_than", required=True, type=parse_duration, help="e.g. 30d, 12h"
)
@pass_script_info
def purge(info: ScriptInfo, older_than: timedelta) -> None:
    """Delete alerts (and their deliveries) older than the given age."""

    async def work(database: Database) -> tuple[int, int, int]:
        return await purge_alerts(database, older_than)

    alerts, deliveries, kept = run(info.load_app(), work)
    click.echo(f"Deleted {alerts} alert(s) and {deliveries} delivery record(s).")
    if kept:
        click.echo(f"Kept {kept} old alert(s) whose deliveries are not finished yet.")


@click.command("create-user")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@pass_script_info
def create_user_command(info: ScriptInfo, name: str, admin: bool) -> None:
    """Create a dashboard user; the password is prompted for (or read from stdin)."""
    password = read_password(f"Password for {name}")

    async def work(database: Database) -> None:
        async with database.session() as session:
            await create_user(session, name, password, is_admin=admin)

    try:
        run(info.load_app(), work)
    except IntegrityError:
        raise click.ClickException(f"a user named {name!r} already exists") from None
    click.echo(f"Created {'administrator' if admin else 'user'} {name!r}.")


@click.command("create-token")
@click.argument("name")
@click.option("--label", default="", help="What the token is for.")
@pass_script_info
def create_token_command(info: ScriptInfo, name: str, label: str) -> None:
    """Create an API token for user NAME and print it once."""

    async def work(database: Database) -> str:
        async with database.session() as session:
            user = await user_named(session, name)
            if user is None:
                raise click.ClickException(f"there is no user named {name!r}")
            return await create_token(session, user, label)

    click.echo(run(info.load_app(), work))


@click.command("send-alert")
@click.argument("message")
@click.option("--title", default="", help="A one-line title.")
@click.option("--severity", type=click.Choice(SEVERITIES), default="info")
@click.option("--channel", "channel_names", multiple=True, help="Repeat for several.")
@pass_script_info
def send_alert(
    info: ScriptInfo, message: str, title: str, severity: str, channel_names: tuple[str, ...]
) -> None:
    """Send an alert now and print each channel's result."""
    app = info.load_app()

    async def work(database: Database) -> list[tuple[str, str, str, str]]:
        dispatcher = get_dispatcher(app)
        try:
            channels = channels_for(get_channels(app), severity, channel_names or None)
        except UnknownChannelError as error:
            raise click.ClickException(str(error)) from None
        async with database.session() as session:
            record = await record_alert(
                session,
                message=message,
                title=title,
                severity=severity,
                channels=channels,
                source="cli",
            )
        if record.silenced:
            raise click.ClickException(
                f"alert #{record.id} is recorded but sent nowhere: silence #{record.silence_id}"
                " matches it"
            )
        async with dispatcher.running():
            outcomes = await dispatcher.dispatch_alert(record.id)
        return [(o.channel, o.status, f"{o.latency_ms:.0f} ms", o.error or "") for o in outcomes]

    rows = run(app, work)
    click.echo(format_table(("channel", "status", "latency", "error"), rows))
    if any(status != "sent" for _, status, _, _ in rows):
        sys.exit(1)


COMMANDS = (
    migrate,
    purge,
    create_user_command,
    create_token_command,
    send_alert,
)


def init_app(app: Quart) -> None:
    """Add Herald's commands to ``app.cli``."""
    for command in COMMANDS:
        app.cli.add_command(command)


async def purge_alerts(database: Database, older_than: timedelta) -> tuple[int, int, int]:
    """Delete finished alerts created before now - ``older_than``, with their deliveries;
    return (alerts, deliveries, alerts kept because they are still being sent)."""
    cutoff = utcnow() - older_than
    unfinished = select(Delivery.alert_id).where(Delivery.status.not_in(FINAL_STATUSES))
    old = AlertRecord.created_at < cutoff
    async with database.session() as session:
        kept = await session.scalar(
            select(func.count()).select_from(AlertRecord).where(old, AlertRecord.id.in_(unfinished))
        )
        doomed = select(AlertRecord.id).where(old, AlertRecord.id.not_in(unfinished))
        deliveries = await session.execute(delete(Delivery).where(Delivery.alert_id.in_(doomed)))
        alerts = await session.execute(
            delete(AlertRecord).where(old, AlertRecord.id.not_in(unfinished))
        )
        await idempotency.purge_expired(session)
        await session.commit()
    return int(alerts.rowcount or 0), int(deliveries.rowcount or 0), int(kept or 0)  # type: ignore[attr-defined]


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain aligned columns."""
    table = [header, *rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    )
