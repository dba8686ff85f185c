"""The dashboard blueprint: login, compose and follow alerts, administration."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart.typing import ResponseReturnValue

from app import csrf
from app.auth import login_gate
from app.channelset import get_channels
from app.models import STATUSES
from channels.base import SEVERITIES

bp = Blueprint("web", __name__)
PUBLIC_ENDPOINTS = frozenset({"web.login", "web.service_worker"})


@bp.before_request
async def require_login() -> ResponseReturnValue | None:
    """The login gate: every dashboard page but the login page needs a signed-in user."""
    return None if request.endpoint in PUBLIC_ENDPOINTS else await login_gate()


bp.before_request(csrf.protect)


@bp.context_processor
async def dashboard_values() -> dict[str, Any]:
    """What the dashboard's forms and filters offer: channels, severities, statuses."""
    return {
        "channels": list(get_channels()),
        "severities": SEVERITIES,
        "statuses": STATUSES,
    }


from app.web import lifecycle, live, views  # noqa: E402,F401  - registers the routes on bp
