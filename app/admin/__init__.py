"""The administration blueprint (``/admin``): users, API tokens and channels.

One gate for every page of it: anonymous visitors go to the login page, signed-in users who
are not administrators get the 403 page; every write carries the CSRF token.
"""

from __future__ import annotations

from quart import Blueprint, abort, g
from quart.typing import ResponseReturnValue

from app import csrf
from app.auth import current_user, redirect_to_login

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
async def require_admin() -> ResponseReturnValue | None:
    """The administrators' gate; the administrator is ``g.admin`` in the views."""
    user = await current_user()
    if user is None:
        return await redirect_to_login()
    if not user.is_admin:
        abort(403, "Only administrators can see this page.")
    g.admin = user
    return None


bp.before_request(csrf.protect)

from app.admin import views  # noqa: E402,F401  - registers the routes on bp
