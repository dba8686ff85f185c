"""The acknowledge links that notifications carry (``/ack/<token>``), for people who are not
signed in: opening one shows the alert and a button; the button (or ntfy's action, which
POSTs) acknowledges. See app/links.py for what a link is good for.

No CSRF token: the link's signature is the credential, and a page elsewhere cannot know it.
A wrong or changed link counts as a failed authentication of the client's address, as a
wrong API token does.
"""

from __future__ import annotations

from quart import Blueprint, abort, render_template, request
from quart.typing import ResponseReturnValue

from app.alerts import get_alert
from app.db import db_session
from app.lifecycle import AlertResolvedError, acknowledge
from app.links import BadLinkError, ExpiredLinkError, get_links
from app.models import AlertRecord, Lifecycle
from app.ratelimit import failed_authentications

bp = Blueprint("ack", __name__, url_prefix="/ack")
ACKNOWLEDGED_BY = "acknowledge link"


async def linked_alert(token: str) -> AlertRecord:
    """The alert the link was made for; 403 for a bad or expired link, 404 for an alert
    that is gone."""
    failures = failed_authentications()
    await failures.refuse_if_exceeded()
    try:
        alert_id, uid = get_links().read(token)
    except ExpiredLinkError as error:
        abort(403, str(error))
    except BadLinkError as error:
        await failures.record()
        abort(403, str(error))
    record = await get_alert(db_session(), alert_id)
    if record is None or record.uid != uid:
        abort(404, "The alert of this link is no longer kept.")
    return record


@bp.route("/<token>", methods=["GET", "POST"])
async def acknowledge_by_link(token: str) -> ResponseReturnValue:
    """GET: the alert and a button; POST: acknowledge it."""
    record = await linked_alert(token)
    if request.method == "POST" and record.state == Lifecycle.FIRING:
        try:
            record = await acknowledge(db_session(), record.id, by=ACKNOWLEDGED_BY) or record
        except AlertResolvedError:
            record = await get_alert(db_session(), record.id) or record
    return await render_template("ack/acknowledge.html", alert=record, token=token)
