"""A mailbox adapter's cursor (``intake.mailbox.CursorStore``) kept in the database: one row
per mailbox and folder, written in its own short transaction. The cursor is only a cache of
the folder's contents and where the server's change feed left off; the ledger, not the
cursor, says what was done, so a lost or stale cursor costs one full listing, never a
message."""

from __future__ import annotations

from datetime import UTC, datetime

from records.database import Database
from records.tables import MailboxCursor


class DatabaseCursor:
    def __init__(self, db: Database, mailbox: str, folder: str) -> None:
        self.db = db
        self.mailbox = mailbox
        self.folder = folder

    def load(self) -> str | None:
        with self.db.session() as session:
            row = session.get(MailboxCursor, (self.mailbox, self.folder))
            return row.state if row is not None else None

    def save(self, state: str) -> None:
        now = datetime.now(UTC)
        with self.db.session() as session:
            row = session.get(MailboxCursor, (self.mailbox, self.folder))
            if row is None:
                session.add(
                    MailboxCursor(
                        mailbox=self.mailbox, folder=self.folder, state=state, saved_at=now
                    )
                )
            else:
                row.state = state
                row.saved_at = now
