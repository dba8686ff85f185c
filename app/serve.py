"""``python -m app.serve [hypercorn's options] asgi:app``: hypercorn, as ``make run`` starts it.

It is hypercorn's own command line, with every option, and one difference: a start that
fails — a bad setting, a ``CHANNELS`` entry that does not import, a database that is not
migrated, a port already in use — is told in one line naming the setting or the problem,
and the exit code is 1. With ``HERALD_LOG_LEVEL=DEBUG`` the traceback is shown instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import tomllib

from hypercorn.__main__ import main as hypercorn_main
from hypercorn.utils import LifespanFailureError

from app.db import DatabaseNotReadyError
from config import ConfigError

# hypercorn words a failed start-up as: Lifespan failure in startup. '<the app's reason>'
LIFESPAN_REASON = re.compile(r"'(.*)'$", re.DOTALL)


def binds(argv: list[str]) -> str:
    """The addresses hypercorn was asked to listen on (options first, then its config)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-b", "--bind", action="append", default=[])
    parser.add_argument("-c", "--config")
    known, _ = parser.parse_known_args(argv)
    addresses: list[str] = known.bind
    if not addresses and known.config and known.config.endswith(".toml"):
        try:
            with open(known.config.removeprefix("file:"), "rb") as file:
                addresses = list(tomllib.load(file).get("bind", []))
        except (OSError, tomllib.TOMLDecodeError):
            pass
    return ", ".join(addresses) or "the configured address"


def failure(error: BaseException, argv: list[str]) -> str | None:
    """The one line that says why Herald did not start, or None for an unexpected error."""
    if isinstance(error, ConfigError):  # ChannelConfigError is one too
        return f"bad setting {error}"
    if isinstance(error, LifespanFailureError):
        match = LIFESPAN_REASON.search(str(error))
        return match.group(1) if match else str(error)
    if isinstance(error, OSError) and error.strerror:
        return f"bind: cannot listen on {binds(argv)}: {error.strerror}"
    return None


class StartupRefusals(logging.Filter):
    """Quart logs a failed start-up with its traceback; a refusal Herald explains (such as
    a database that is not migrated) is told in the one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop the traceback of an explained refusal."""
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, DatabaseNotReadyError)


def main(argv: list[str] | None = None) -> int:
    """Serve with hypercorn; one line on stderr and exit code 1 when the start fails."""
    args = sys.argv[1:] if argv is None else argv
    debug = os.environ.get("HERALD_LOG_LEVEL", "").upper() == "DEBUG"
    if not debug:
        logging.getLogger("app").addFilter(StartupRefusals())  # Quart's logger for Herald
    try:
        return hypercorn_main(args)
    except Exception as error:
        reason = failure(error, args)
        if reason is None or debug:
            raise
        print(f"herald: cannot start: {reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
