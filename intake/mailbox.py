"""The one Protocol every mailbox adapter implements, and the values it returns.

The ledger, not the mailbox, is the memory of what was done: an adapter only lists what is
in the watched folder, hands over a message's bytes, and moves a message out when the ledger
has recorded its fate. Each adapter makes its connection in one place and translates its
library's errors into ``intake.errors.MailboxError``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Destination(StrEnum):
    PROCESSED = "processed"
    QUARANTINE = "quarantine"


@dataclass(frozen=True, slots=True)
class FolderSnapshot:
    """What the watched folder holds now. ``uidvalidity`` changes when the server renumbers
    the folder (RFC 3501 §2.3.1.1); UIDs are only meaningful with it."""

    uidvalidity: int
    uids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Fetched:
    raw: bytes
    delivered_at: datetime | None  # when the server took delivery (IMAP INTERNALDATE)


class CursorStore(Protocol):
    """Where an adapter that reads a folder by changes (an EWS sync state, a Graph delta
    link) keeps its cursor and the ids it last saw in the folder, so a restart goes on from
    there instead of listing the whole folder again. The text is the adapter's own (JSON);
    ``records/cursors.py`` keeps it in the database, one row per mailbox and folder."""

    def load(self) -> str | None: ...

    def save(self, state: str) -> None: ...


class Mailbox(Protocol):
    @property
    def name(self) -> str:
        """Stable name for the ledger and the logs (no secret in it)."""
        ...

    @property
    def folder(self) -> str: ...

    def connect(self) -> None: ...

    def close(self) -> None: ...

    def snapshot(self) -> FolderSnapshot: ...

    def fetch(self, uid: str) -> Fetched | None:
        """The message's bytes, or None if it is no longer there (deleted or moved)."""
        ...

    def move(self, uids: Sequence[str], destination: Destination) -> None:
        """Move messages out of the watched folder; those already gone are passed over."""
        ...

    def keep_copy(self, folder: str, raw: bytes, message_id: str, *, look_first: bool) -> None:
        """File a copy of a message we sent in ``folder`` (the Sent folder); ``look_first``:
        a copy may be there already (an earlier attempt was cut short): file none then."""
        ...

    def wait(self, seconds: float, stop: Callable[[], bool]) -> None:
        """Return when new mail may have arrived, after ``seconds``, or soon after ``stop()``
        turns true (a SIGTERM must not wait out a long IDLE)."""
        ...
