"""The dashboard's lifecycle actions: acknowledge and resolve buttons, and the silences page
(list, create, expire)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from quart import abort, flash, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue

from app.auth import current_user
from app.db import db_session
from app.dispatch import get_dispatcher
from app.lifecycle import AlertResolvedError, acknowledge, get_policy, resolve
from app.models import utcnow
from app.schemas import MatcherIn, field_errors
from app.silences import Matcher, all_silences, create_silence, expire_silence, matchers_of
from app.web import bp

DURATIONS = {"1h": 1, "2h": 2, "4h": 4, "8h": 8, "1d": 24, "3d": 72, "1w": 168}  # hours


def back_to(alert_id: int) -> ResponseReturnValue:
    """Where a button leads back: the page it was pressed on (same site), else the alert."""
    target = request.referrer or ""
    if target.startswith(request.host_url):
        return redirect(target)
    return redirect(url_for("web.alert_detail", alert_id=alert_id))


@bp.post("/alerts/<id:alert_id>/acknowledge")
async def acknowledge_alert(alert_id: int) -> ResponseReturnValue:
    """The Acknowledge button."""
    user = await current_user()
    assert user is not None  # the login gate ran
    try:
        record = await acknowledge(db_session(), alert_id, by=user.username)
    except AlertResolvedError as error:
        await flash(str(error), "error")
        return back_to(alert_id)
    if record is None:
        abort(404, f"There is no alert #{alert_id}.")
    await flash(f"Alert #{alert_id} is acknowledged: no more repeats.", "success")
    return back_to(alert_id)


@bp.post("/alerts/<id:alert_id>/resolve")
async def resolve_alert(alert_id: int) -> ResponseReturnValue:
    """The Resolve button."""
    if await resolve(db_session(), alert_id, get_policy()) is None:
        abort(404, f"There is no alert #{alert_id}.")
    get_dispatcher().notify()
    await flash(f"Alert #{alert_id} is resolved.", "success")
    return back_to(alert_id)


async def render_silences(
    form: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> str:
    now = utcnow()
    silences = [(s, s.state(now), matchers_of(s)) for s in await all_silences(db_session())]
    return await render_template(
        "web/silences.html",
        silences=silences,
        durations=DURATIONS,
        form=form or {"duration": "2h", "regex": False, "equal": True},
        errors=errors or {},
    )


@bp.get("/silences")
async def silences() -> ResponseReturnValue:
    """Active, pending and expired silences, and a form for a new one."""
    return await render_silences()


@bp.post("/silences")
async def add_silence() -> ResponseReturnValue:
    """A silence of one matcher, from now for the chosen duration."""
    form = await request.form
    values = {
        "name": form.get("name", "").strip(),
        "value": form.get("value", ""),
        "regex": form.get("regex") == "on",
        "equal": form.get("equal", "on") == "on",
        "duration": form.get("duration", ""),
        "comment": form.get("comment", "").strip(),
    }
    if values["duration"] not in DURATIONS:
        return await render_silences(values, {"duration": "choose one of the durations"}), 422
    try:
        matcher = MatcherIn.model_validate(
            {k: values[k] for k in ("name", "value", "regex", "equal")}
        )
    except ValidationError as error:
        return await render_silences(values, field_errors(error)), 422
    user = await current_user()
    now = utcnow()
    silence = await create_silence(
        db_session(),
        matchers=[Matcher(**matcher.model_dump())],
        starts_at=now,
        ends_at=now + timedelta(hours=DURATIONS[values["duration"]]),
        comment=str(values["comment"])[:1000],
        created_by=user.username if user else "",
    )
    await flash(
        f"Silence #{silence.id} holds until {silence.ends_at:%Y-%m-%d %H:%M} UTC.", "success"
    )
    return redirect(url_for("web.silences"))


@bp.post("/silences/<id:silence_id>/expire")
async def expire(silence_id: int) -> ResponseReturnValue:
    """The Expire button."""
    if await expire_silence(db_session(), silence_id, utcnow()) is None:
        abort(404, f"There is no silence #{silence_id}.")
    await flash(f"Silence #{silence_id} is expired.", "success")
    return redirect(url_for("web.silences"))
