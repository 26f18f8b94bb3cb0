"""Exit codes (contract.md), and the one-line failure every command prints."""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_PROBLEM = 1  # the input was read, but something in it (or in the state) is wrong
EXIT_USAGE = 2  # bad usage or an unreadable input


def fail(message: str, code: int = EXIT_USAGE) -> int:
    """Say what is wrong in one line on stderr; the exit code to return."""
    print(f"mappa-intake: {message}", file=sys.stderr)
    return code


def state_failure(err: Exception) -> int:
    """The one line for a command that could not open or use its state: a wrong setting
    (usage), or records or a database that cannot be used (a database error by its kind
    only: its text may quote personal data)."""
    from sqlalchemy.exc import DBAPIError

    from app.settings import ConfigError

    if isinstance(err, ConfigError):
        return fail(str(err))
    if isinstance(err, DBAPIError):
        return fail(f"database: cannot be used ({type(err.orig).__name__})", EXIT_PROBLEM)
    return fail(str(err), EXIT_PROBLEM)
