"""Dashboard pages."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
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
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.alerts import (
    AlertFilter,
    UnknownChannelError,
    get_alert_with_history,
    recent_alerts,
    record_alert,
)
from app.auth import (
    authenticate,
    check_new_user,
    create_token,
    create_user,
    current_user,
    disable_user,
    end_sessions,
    set_password,
    start_session,
)
from app.db import db_session
from app.dispatch import describe_error, get_dispatcher
from app.ids import parse_id
from app.models import ApiToken, DeliveryStatus, User, utcnow
from app.ratelimit import LOGIN_LIMITS
from app.schemas import AlertIn, field_errors
from app.stats import WINDOW, channel_stats, panels
from app.web import bp
from channels.base import SEVERITIES, Alert
from channels.webpush import WebPushChannel

RECENT_ALERTS = 20
STATUSES = tuple(status.value for status in DeliveryStatus)


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
        channel=one_of("channel", get_dispatcher().channels),
        text=args.get("q", "").strip()[:200],
    )
    return where, parse_id(args.get("before", ""))


async def render_dashboard(
    form: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> str:
    where, before = history_filter()
    alerts = await recent_alerts(db_session(), limit=RECENT_ALERTS, before=before, where=where)
    channels = get_dispatcher().channels
    older = alerts[-1].id if len(alerts) == RECENT_ALERTS else None
    return await render_template(
        "web/dashboard.html",
        alerts=alerts,
        where=where,
        statuses=STATUSES,
        older=older,
        channels=list(channels),
        push_enabled=any(isinstance(c, WebPushChannel) for c in channels.values()),
        severities=SEVERITIES,
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
        channels = get_dispatcher().channels_for(payload.severity, payload.channels)
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
    figures = await channel_stats(db_session(), get_dispatcher().channels, since)
    return await render_template(
        "web/stats.html", stats=figures, panels=panels(figures), since=since
    )


async def require_admin() -> User:
    """The signed-in administrator; the 403 page for anyone else."""
    user = await current_user()
    if user is None or not user.is_admin:
        abort(403, "Only administrators can see this page.")
    return user


@dataclass(frozen=True)
class ChannelRow:
    """A configured channel as the admin page lists it."""

    name: str
    class_path: str
    severities: list[str]  # those whose alerts it receives when no channels are chosen


def channel_rows() -> list[ChannelRow]:
    """Every configured channel, with its class and the severities routed to it."""
    dispatcher = get_dispatcher()
    return [
        ChannelRow(
            name,
            f"{type(channel).__module__}.{type(channel).__qualname__}",
            [s for s in SEVERITIES if name in dispatcher.channels_for(s)],
        )
        for name, channel in dispatcher.channels.items()
    ]


async def render_admin(
    new_token: str | None = None,
    user_errors: dict[str, str] | None = None,
    user_form: dict[str, str] | None = None,
    password_errors: dict[int, str] | None = None,
) -> str:
    session_ = db_session()
    users = list(await session_.scalars(select(User).order_by(User.username)))
    tokens = list(await session_.scalars(select(ApiToken).order_by(ApiToken.id)))
    return await render_template(
        "web/admin.html",
        users=users,
        tokens=tokens,
        channels=channel_rows(),
        new_token=new_token,
        user_errors=user_errors or {},
        user_form=user_form or {},
        password_errors=password_errors or {},
    )


@bp.get("/admin")
async def admin() -> ResponseReturnValue:
    """Users and API tokens; administrators only."""
    await require_admin()
    return await render_admin()


@bp.post("/admin/channels/<name>/test")
async def admin_test_channel(name: str) -> ResponseReturnValue:
    """Send a test alert on one channel now and tell how it went; nothing is recorded."""
    admin = await require_admin()
    dispatcher = get_dispatcher()
    if name not in dispatcher.channels:
        abort(404, f"There is no channel {name}.")
    alert = Alert(
        id=0,
        title="Herald test",
        message=f"A test of the {name} channel, sent by {admin.username} from the admin page.",
        severity="info",
        created_at=utcnow(),
        uid=f"test-{uuid.uuid4().hex}",
    )
    receipt, error = await dispatcher.attempt(alert, name)
    if error is not None:
        await flash(f"Test via {name} failed: {describe_error(error, dispatcher.timeout)}", "error")
    elif receipt is not None and receipt.reference:
        await flash(
            f"Test alert sent via {name}. Provider reference: {receipt.reference}.", "success"
        )
    else:
        await flash(f"Test alert sent via {name}.", "success")
    return redirect(url_for("web.admin", _anchor="channels"))


@bp.post("/admin/users")
async def admin_create_user() -> ResponseReturnValue:
    """Add a dashboard user."""
    await require_admin()
    form = await request.form
    username, password = form.get("username", "").strip(), form.get("password", "")
    problems = check_new_user(username, password)
    if not problems:
        try:
            await create_user(db_session(), username, password, is_admin="is_admin" in form)
        except IntegrityError:
            await db_session().rollback()
            problems["username"] = f"There is already a user named {username}."
    if problems:
        return await render_admin(user_errors=problems, user_form={"username": username}), 422
    await flash(f"User {username} created.", "success")
    return redirect(url_for("web.admin"))


async def managed_user(user_id: int) -> User:
    """The user an admin action is about; 404 when there is none."""
    user = await db_session().get(User, user_id)
    if user is None:
        abort(404, f"There is no user {user_id}.")
    return user


@bp.post("/admin/users/<id:user_id>/disable")
async def admin_disable_user(user_id: int) -> ResponseReturnValue:
    """Disable a user: no login, no session, no API token works any more."""
    admin = await require_admin()
    user = await managed_user(user_id)
    if user.id == admin.id:
        await flash("You cannot disable yourself.", "error")
    else:
        await disable_user(db_session(), user)
        await flash(f"User {user.username} disabled.", "info")
    return redirect(url_for("web.admin"))


@bp.post("/admin/users/<id:user_id>/password")
async def admin_reset_password(user_id: int) -> ResponseReturnValue:
    """Set a new password for a user."""
    await require_admin()
    user = await managed_user(user_id)
    password = (await request.form).get("password", "")
    problem = check_new_user(user.username, password).get("password")
    if problem:
        return await render_admin(password_errors={user.id: problem}), 422
    await set_password(db_session(), user, password)
    await flash(f"Password for {user.username} changed.", "success")
    return redirect(url_for("web.admin"))


@bp.post("/admin/tokens")
async def admin_create_token() -> ResponseReturnValue:
    """Create a token for a user and show it, this once, on the page (never in a cookie)."""
    await require_admin()
    form = await request.form
    owner = await db_session().scalar(select(User).where(User.username == form.get("username")))
    if owner is None:
        await flash("Choose an existing user for the token.", "error")
        return redirect(url_for("web.admin"))
    label = form.get("label", "").strip()[:100]
    token = await create_token(db_session(), owner, label)
    await flash(
        f"Token created for {owner.username}. Copy it now: it is not shown again.", "success"
    )
    return await render_admin(new_token=token), 201


@bp.post("/admin/tokens/<id:token_id>/revoke")
async def admin_revoke_token(token_id: int) -> ResponseReturnValue:
    """Revoke a token: it stops working at once."""
    await require_admin()
    record = await db_session().get(ApiToken, token_id)
    if record is None:
        abort(404, f"There is no token {token_id}.")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        await db_session().commit()
    await flash(f"Token {record.label or token_id} revoked.", "info")
    return redirect(url_for("web.admin"))
