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
