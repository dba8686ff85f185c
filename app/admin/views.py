"""Administration pages: parse the form, call one service function, render."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from quart import abort, flash, g, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from app import auth
from app.admin import bp
from app.alerts import channels_for
from app.channelset import get_channels
from app.db import db_session
from app.dispatch import describe_error, get_dispatcher
from app.models import User, utcnow
from channels.base import SEVERITIES, Alert


@dataclass(frozen=True)
class ChannelRow:
    """A configured channel as the admin page lists it."""

    name: str
    class_path: str
    severities: list[str]  # those whose alerts it receives when no channels are chosen


def channel_rows() -> list[ChannelRow]:
    """Every configured channel, with its class and the severities routed to it."""
    channels = get_channels()
    return [
        ChannelRow(
            name,
            channels.class_path(name),
            [s for s in SEVERITIES if name in channels_for(channels, s)],
        )
        for name in channels
    ]


async def render_admin(
    new_token: str | None = None,
    user_errors: dict[str, str] | None = None,
    user_form: dict[str, str] | None = None,
    password_errors: dict[int, str] | None = None,
) -> str:
    return await render_template(
        "admin/index.html",
        users=await auth.all_users(db_session()),
        tokens=await auth.all_tokens(db_session()),
        channels=channel_rows(),
        new_token=new_token,
        user_errors=user_errors or {},
        user_form=user_form or {},
        password_errors=password_errors or {},
    )


@bp.get("")
async def index() -> ResponseReturnValue:
    """Users, API tokens and channels."""
    return await render_admin()


@bp.post("/channels/<name>/test")
async def test_channel(name: str) -> ResponseReturnValue:
    """Send a test alert on one channel now and tell how it went; nothing is recorded."""
    dispatcher = get_dispatcher()
    if name not in get_channels():
        abort(404, f"There is no channel {name}.")
    alert = Alert(
        id=0,
        title="Herald test",
        message=f"A test of the {name} channel, sent by {g.admin.username} from the admin page.",
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
    return redirect(url_for("admin.index", _anchor="channels"))


@bp.post("/users")
async def create_user() -> ResponseReturnValue:
    """Add a dashboard user."""
    form = await request.form
    username, password = form.get("username", "").strip(), form.get("password", "")
    problems = auth.check_new_user(username, password)
    if not problems:
        try:
            await auth.create_user(db_session(), username, password, is_admin="is_admin" in form)
        except IntegrityError:
            await db_session().rollback()
            problems["username"] = f"There is already a user named {username}."
    if problems:
        return await render_admin(user_errors=problems, user_form={"username": username}), 422
    await flash(f"User {username} created.", "success")
    return redirect(url_for("admin.index"))


async def managed_user(user_id: int) -> User:
    """The user an admin action is about; 404 when there is none."""
    user = await db_session().get(User, user_id)
    if user is None:
        abort(404, f"There is no user {user_id}.")
    return user


@bp.post("/users/<id:user_id>/disable")
async def disable_user(user_id: int) -> ResponseReturnValue:
    """Disable a user: no login, no session, no API token works any more."""
    user = await managed_user(user_id)
    if user.id == g.admin.id:
        await flash("You cannot disable yourself.", "error")
    else:
        await auth.disable_user(db_session(), user)
        await flash(f"User {user.username} disabled.", "info")
    return redirect(url_for("admin.index"))


@bp.post("/users/<id:user_id>/password")
async def reset_password(user_id: int) -> ResponseReturnValue:
    """Set a new password for a user."""
    user = await managed_user(user_id)
    password = (await request.form).get("password", "")
    problem = auth.check_new_user(user.username, password).get("password")
    if problem:
        return await render_admin(password_errors={user.id: problem}), 422
    await auth.set_password(db_session(), user, password)
    await flash(f"Password for {user.username} changed.", "success")
    return redirect(url_for("admin.index"))


@bp.post("/tokens")
async def create_token() -> ResponseReturnValue:
    """Create a token for a user and show it, this once, on the page (never in a cookie)."""
    form = await request.form
    owner = await auth.user_named(db_session(), form.get("username", ""))
    if owner is None:
        await flash("Choose an existing user for the token.", "error")
        return redirect(url_for("admin.index"))
    label = form.get("label", "").strip()[:100]
    token = await auth.create_token(db_session(), owner, label)
    await flash(
        f"Token created for {owner.username}. Copy it now: it is not shown again.", "success"
    )
    return await render_admin(new_token=token), 201


@bp.post("/tokens/<id:token_id>/revoke")
async def revoke_token(token_id: int) -> ResponseReturnValue:
    """Revoke a token: it stops working at once."""
    record = await auth.revoke_token(db_session(), token_id)
    if record is None:
        abort(404, f"There is no token {token_id}.")
    await flash(f"Token {record.label or token_id} revoked.", "info")
    return redirect(url_for("admin.index"))
