"""Dashboard pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from quart import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from quart.typing import ResponseReturnValue
from quart_rate_limiter import rate_limit

from app.alerts import (
    AlertFilter,
    UnknownChannelError,
    channels_for,
    get_alert_with_history,
    recent_alerts,
)
from app.auth import (
    authenticate,
    current_user,
    end_sessions,
    start_session,
)
from app.channelset import get_channels
from app.db import db_session
from app.dispatch import get_dispatcher
from app.ids import parse_id
from app.lifecycle import record_alert
from app.models import STATUSES, utcnow
from app.ratelimit import LOGIN_LIMITS
from app.schemas import AlertIn, field_errors
from app.stats import WINDOW, channel_stats, panels
from app.web import bp
from channels.base import SEVERITIES

RECENT_ALERTS = 20


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else the dashboard (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return url_for("web.dashboard")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return url_for("web.dashboard")
    return target


@bp.route("/login", methods=["GET", "POST"])
@rate_limit(limits=LOGIN_LIMITS)
async def login() -> ResponseReturnValue:
    """Show the login form; on POST, sign the user in."""
    if request.method == "GET":
        return await render_template("web/login.html")
    form = await request.form
    user = await authenticate(db_session(), form.get("username", ""), form.get("password", ""))
    if user is None:
        await flash("Invalid username or password.", "error")
        return await render_template("web/login.html", username=form.get("username", "")), 401
    start_session(user)
    await flash(f"Welcome, {user.username}.", "success")
    return redirect(safe_next(request.args.get("next")))


@bp.post("/logout")
async def logout() -> ResponseReturnValue:
    """Sign out and forget the session."""
    user = await current_user()
    if user is not None:  # the cookie, wherever it was saved, stops working
        await end_sessions(db_session(), user)
    session.clear()
    await flash("You have been logged out.", "info")
    return redirect(url_for("web.login"))


def history_filter() -> tuple[AlertFilter, int | None]:
    """The history filters and page from the query string; unknown values are ignored."""
    args = request.args

    def one_of(name: str, allowed: Iterable[str]) -> str:
        value: str = args.get(name, "")
        return value if value in allowed else ""

    where = AlertFilter(
        severity=one_of("severity", SEVERITIES),
        status=one_of("status", STATUSES),
        channel=one_of("channel", get_channels()),
        text=args.get("q", "").strip()[:200],
    )
    return where, parse_id(args.get("before", ""))


async def render_dashboard(
    form: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> str:
    where, before = history_filter()
    alerts = await recent_alerts(db_session(), limit=RECENT_ALERTS, before=before, where=where)
    older = alerts[-1].id if len(alerts) == RECENT_ALERTS else None
    return await render_template(
        "web/dashboard.html",
        alerts=alerts,
        where=where,
        older=older,
        form=form or {"severity": "info", "channels": []},
        errors=errors or {},
    )


@bp.get("/sw.js")
async def service_worker() -> ResponseReturnValue:
    """The Web Push service worker, served from the root so that its scope is the whole site."""
    response = await send_from_directory(current_app.static_folder or "", "sw.js")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/")
async def dashboard() -> ResponseReturnValue:
    """The compose form and the recent alerts with their per-channel status."""
    return await render_dashboard()


@bp.post("/alerts")
async def send_alert() -> ResponseReturnValue:
    """Record the composed alert and start sending it."""
    form = await request.form
    values = {
        "title": form.get("title", "").strip(),
        "message": form.get("message", ""),
        "severity": form.get("severity", "info"),
        "channels": form.getlist("channels"),
    }
    try:
        # no box ticked: the channels ROUTES gives the severity (by default, all of them)
        payload = AlertIn.model_validate({**values, "channels": values["channels"] or None})
        channels = channels_for(get_channels(), payload.severity, payload.channels)
    except ValidationError as error:
        return await render_dashboard(values, field_errors(error)), 422
    except UnknownChannelError as error:
        return await render_dashboard(values, {"channels": str(error)}), 422
    user = await current_user()
    record = await record_alert(
        db_session(),
        message=payload.message,
        title=payload.title,
        severity=payload.severity,
        channels=channels,
        source="web",
        created_by_id=user.id if user else None,
    )
    get_dispatcher().notify()
    await flash(f"Alert #{record.id} is on its way to {len(channels)} channel(s).", "success")
    return redirect(url_for("web.alert_detail", alert_id=record.id))


@bp.get("/alerts/<id:alert_id>")
async def alert_detail(alert_id: int) -> ResponseReturnValue:
    """One alert with each channel's status, attempts, latency and error."""
    record = await get_alert_with_history(db_session(), alert_id)
    if record is None:
        abort(404, f"There is no alert #{alert_id}.")
    return await render_template("web/alert.html", alert=record)


@bp.get("/stats")
async def stats() -> ResponseReturnValue:
    """Each channel's success rate and latency over the last 24 hours, charted."""
    since = utcnow() - WINDOW
    figures = await channel_stats(db_session(), get_channels(), since)
    return await render_template(
        "web/stats.html", stats=figures, panels=panels(figures), since=since
    )
