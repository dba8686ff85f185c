"""Log lines that cannot be forged.

Request paths, alert text and providers' error bodies all reach Herald's log lines, and any of
them may hold a line break. :class:`EscapingFormatter` writes every control character and
Unicode line break of a message as an escape (``\\n``, ``\\x00``, ``\\u2028``), so one record is
one line; a traceback keeps its lines, each indented, so that none of them can pass for a
record of its own.
"""

from __future__ import annotations

import logging
import re

from channels.base import LINE_BREAKING

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_LINE_BREAKS = re.compile(f"[{LINE_BREAKING}]")
INDENT = "    "


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode()


def escape(text: str) -> str:
    """``text`` with every line-breaking or control character written as an escape."""
    return _LINE_BREAKS.sub(_escaped, text)


class EscapingFormatter(logging.Formatter):
    """A formatter whose every record starts one line of its own; see the module docstring."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The record's line, with the message's control characters escaped."""
        return escape(super().formatMessage(record))

    def formatException(self, ei: logging._SysExcInfoType) -> str:
        """The traceback, each line indented and its other control characters escaped."""
        return self._indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        """The stack, each line indented."""
        return self._indented(super().formatStack(stack_info))

    @staticmethod
    def _indented(text: str) -> str:
        return "\n".join(INDENT + escape(line) for line in text.split("\n"))


def configure(level: str) -> None:
    """Send Herald's records, and hypercorn's, to one escaping handler on the root logger
    (unless the root logger already has handlers, as under pytest)."""
    root = logging.getLogger()
    root.setLevel(level)
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(EscapingFormatter(FORMAT))
        root.addHandler(handler)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per provider request
    if logging.getLevelName(level) > logging.DEBUG:  # not two lines per schema check
        logging.getLogger("alembic").setLevel(logging.WARNING)
