"""Errors of the records package.

RecordsError            root: the database cannot do what was asked
├── SealError           a stored blob cannot be decrypted (wrong or missing key)
└── NotFound            no such case or quarantine entry
"""

from __future__ import annotations


class RecordsError(Exception):
    pass


class SealError(RecordsError):
    pass


class NotFound(RecordsError):
    pass
