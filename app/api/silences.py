"""Silences in the API: create, list, read, expire."""

from __future__ import annotations

from typing import Any

from quart import abort, g, url_for
from quart.typing import ResponseReturnValue
from quart_schema import validate_request, validate_response

from app.api import bp
from app.db import db_session
from app.errors import InvalidInput
from app.models import Silence, utcnow
from app.openapi import document_errors, document_headers, location
from app.schemas import SilenceIn, SilenceList, SilenceOut
from app.silences import Matcher, all_silences, create_silence, expire_silence


def silence_json(silence: Silence) -> dict[str, Any]:
    """The API's view of one silence."""
    return {
        "id": silence.id,
        "matchers": silence.matchers,
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "comment": silence.comment,
        "created_by": silence.created_by,
        "created_at": silence.created_at.isoformat(),
        "state": silence.state(utcnow()),
    }


@bp.post("/silences")
@validate_request(SilenceIn)
@validate_response(SilenceOut, 201)
@document_errors(400, 413, 415, 422)
@document_headers(responses={201: location("silence")})
async def add_silence(data: SilenceIn) -> ResponseReturnValue:
    """Keep matching alerts quiet from ``starts_at`` (default: now) until ``ends_at``."""
    now = utcnow()
    starts_at = data.starts_at or now
    if data.ends_at <= max(starts_at, now):
        problem = "must be later than starts_at and than now"
        raise InvalidInput(f"ends_at {problem}.", {"ends_at": problem})
    silence = await create_silence(
        db_session(),
        matchers=[Matcher(**matcher.model_dump()) for matcher in data.matchers],
        starts_at=starts_at,
        ends_at=data.ends_at,
        comment=data.comment,
        created_by=g.user.username,
    )
    headers = {"Location": url_for("api.read_silence", silence_id=silence.id)}
    return silence_json(silence), 201, headers


@bp.get("/silences")
@validate_response(SilenceList)
@document_errors()
async def list_silences() -> ResponseReturnValue:
    """Every silence: pending, active and expired, those that end last first."""
    return {"silences": [silence_json(s) for s in await all_silences(db_session())]}


@bp.get("/silences/<id:silence_id>")
@validate_response(SilenceOut)
@document_errors(404)
async def read_silence(silence_id: int) -> ResponseReturnValue:
    """One silence."""
    silence = await db_session().get(Silence, silence_id)
    if silence is None:
        abort(404, f"There is no silence {silence_id}.")
    return silence_json(silence)


@bp.delete("/silences/<id:silence_id>")
@validate_response(SilenceOut)
@document_errors(404)
async def delete_silence(silence_id: int) -> ResponseReturnValue:
    """Expire the silence now; it stays listed as expired."""
    silence = await expire_silence(db_session(), silence_id, utcnow())
    if silence is None:
        abort(404, f"There is no silence {silence_id}.")
    return silence_json(silence)
