"""Record ids as they arrive in paths, query strings and websocket arguments.

Every id Herald takes from a client is checked here before it reaches a query: ASCII digits
only (``\\d`` and ``str.isdigit`` also accept ``²`` and ``٣``), no leading zeros, and no
larger than the largest id every supported database stores (PostgreSQL's ``integer``).
Anything else is a 404 in a path and a 4xx with a message elsewhere, never a database error.
"""

from __future__ import annotations

import re

from quart import Quart
from werkzeug.routing import BaseConverter

MAX_ID = 2**31 - 1
# 1 to MAX_ID written without leading zeros, as one regular expression: a route then matches
# an id or nothing. (A converter that refused out-of-range values after matching would make
# the router answer 405 instead of 404 where another method has a route on the same path.)
ID_PATTERN = (
    "(?:[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}"
    "|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}"
    "|21474836[0-3][0-9]|214748364[0-7])"
)
_ID = re.compile(ID_PATTERN)


def parse_id(text: str) -> int | None:
    """The id written in ``text``, or None when it is not one (see the module docstring)."""
    return int(text) if _ID.fullmatch(text) else None


class IdConverter(BaseConverter):
    """``<id:name>`` in a route: a record id as :func:`parse_id` reads it; anything else does
    not match the route (404)."""

    regex = ID_PATTERN
    part_isolating = True

    def to_python(self, value: str) -> int:
        """The id as a number."""
        return int(value)

    def to_url(self, value: int) -> str:
        """The id as written in a URL."""
        return str(value)


def init_app(app: Quart) -> None:
    """Register the ``id`` route converter (before the blueprints add their routes)."""
    app.url_map.converters["id"] = IdConverter
