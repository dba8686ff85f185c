"""Endpoints for load balancers and supervisors; no authentication."""

from __future__ import annotations

from quart import Blueprint
from quart.typing import ResponseReturnValue

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
async def healthz() -> ResponseReturnValue:
    """The process is up and answering."""
    return {"status": "ok"}
