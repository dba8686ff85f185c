"""Template filters, globals and the context processor used by every page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape
from quart import Quart, current_app
from sqlalchemy.exc import SQLAlchemyError

from app.auth import current_user
from app.csrf import csrf_token
from app.models import STATUSES, Lifecycle, User

BADGE_STATUSES = {*STATUSES, *Lifecycle, "partial", "silenced", "active", "expired"}


def timeago(value: datetime, now: datetime | None = None) -> str:
    """'just now', '5 minutes ago', 'in 2 hours', '3 days ago'."""
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 10:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= size:
            amount = pluralize(seconds // size, unit)
            return f"in {amount}" if future else f"{amount} ago"
    raise AssertionError("unreachable: seconds >= 10 here")


def format_datetime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S UTC") -> str:
    """A UTC timestamp for people; empty for None."""
    return value.astimezone(UTC).strftime(fmt) if value else ""


def pluralize(count: int, singular: str, plural: str | None = None) -> str:
    """'1 channel', '3 channels', '2 replies' (with ``plural='replies'``)."""
    word = singular if count == 1 else (plural or f"{singular}s")
    return f"{count} {word}"


def duration(milliseconds: float | None) -> str:
    """'850 ms', '1.2 s', '2 min 5 s'; an en dash for None."""
    if milliseconds is None:
        return "\u2013"
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def percent(share: float | None) -> str:
    """'97.5 %'; an en dash for None."""
    return "\u2013" if share is None else f"{share * 100:.1f} %"


def status_badge(status: str) -> Markup:
    """A coloured label for a delivery or alert status."""
    css = status if status in BADGE_STATUSES else "unknown"
    return Markup('<span class="badge badge-{}">{}</span>').format(css, escape(status))


async def _user_or_none() -> User | None:
    try:
        return await current_user()
    except SQLAlchemyError:  # an error page must render even when the database is down
        return None


async def inject_globals() -> dict[str, Any]:
    """Values every template can use."""
    return {
        "app_name": current_app.config["APP_NAME"],
        "current_user": await _user_or_none(),
        "current_year": datetime.now(UTC).year,
        "csrf_token": csrf_token,
    }


def init_app(app: Quart) -> None:
    """Register filters, globals and the context processor on ``app``."""
    app.add_template_filter(timeago, "timeago")
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(pluralize, "pluralize")
    app.add_template_filter(duration, "duration")
    app.add_template_filter(percent, "percent")
    app.add_template_global(status_badge, "status_badge")
    app.context_processor(inject_globals)
