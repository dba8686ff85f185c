"""Record ids as they arrive in paths, query strings and websocket arguments.

Every id Herald takes from a client is checked here before it reaches a query: ASCII digits
only (``\\d`` and ``str.isdigit`` also accept ``²`` and ``٣``) and no larger than the largest id
every supported database stores (PostgreSQL's ``integer``). Anything else is a 404 in a path
and a 4xx with a message elsewhere, never a database error.
"""

from __future__ import annotations

import re

from quart import Quart
from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")


def parse_id(text: str) -> int | None:
    """The id written in ``text``, or None when it is not one (see the module docstring)."""
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


class IdConverter(IntegerConverter):
    """``<id:name>`` in a route: a record id as :func:`parse_id` reads it; anything else does
    not match the route (404)."""

    regex = _DIGITS.pattern

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def init_app(app: Quart) -> None:
    """Register the ``id`` route converter (before the blueprints add their routes)."""
    app.url_map.converters["id"] = IdConverter
