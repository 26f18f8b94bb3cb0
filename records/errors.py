"""Errors of the records package.

RecordsError            root: the database cannot do what was asked
├── SealError           a stored blob cannot be decrypted (wrong or missing key)
└── NotFound            no such case or quarantine entry
    └── Purged          stored bytes removed under the retention policy (records/retention.py)
"""

from __future__ import annotations

from datetime import date


class RecordsError(Exception):
    pass


class SealError(RecordsError):
    pass


class NotFound(RecordsError):
    pass


class Purged(NotFound):
    """The stored bytes were removed under the retention policy on ``on``; the rows that
    describe them (the case, its fields, the ledger) are kept."""

    def __init__(self, on: date) -> None:
        super().__init__(f"removed under the retention policy on {on.isoformat()}")
        self.on = on
