"""A held message taken again, or deleted: what ``quarantine release|reprocess`` and the
console's quarantine page do, in one place.

* release: take the message whatever its sender checks said (a person vouches for it);
* reprocess: run the whole intake again (after the allow-list or a parser was fixed);
* delete: drop its stored bytes for good, keeping the ledger row and the entry (state
  "deleted"), so the message is still known and never taken again if it is seen again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, delete

from intake.processing import MessageProcessor
from records import ledger
from records.errors import RecordsError
from records.events import record_event
from records.tables import (
    EventKind,
    MessageState,
    QuarantineEntry,
    QuarantineState,
    StoredBlob,
)


class NotHeld(RecordsError):
    """The entry was already released, reprocessed or deleted (perhaps by someone else)."""


@dataclass(frozen=True, slots=True)
class Retaken:
    refs: list[str]  # the cases it went to; empty: held again
    reason: str  # why it is held again ("" if taken)


def _held(session: Session, entry_id: int) -> tuple[QuarantineEntry, int]:
    entry, message = ledger.entry(session, entry_id, lock=True)
    if entry.state is not QuarantineState.HELD:
        raise NotHeld(f"quarantine entry {entry_id} is {entry.state}, not held")
    assert message.id is not None
    return entry, message.id


def take_again(processor: MessageProcessor, entry_id: int, *, vouched: bool) -> Retaken:
    """Raises NotFound or NotHeld; NotHeld too if another process took it meanwhile."""
    with processor.db.session() as session:
        _entry, inbound_id = _held(session, entry_id)
        raw = ledger.raw_bytes(session, inbound_id, processor.sealer)
    refs = processor.take(inbound_id, raw, expected=MessageState.QUARANTINED, vouched=vouched)
    if refs is None:
        raise NotHeld(f"quarantine entry {entry_id} was dealt with by another process")
    if refs:
        return Retaken(refs, "")
    with processor.db.session() as session:
        entry, _message = ledger.entry(session, entry_id)
        return Retaken([], entry.reason)


def delete_held(session: Session, entry_id: int, now: datetime) -> None:
    """Drop a held message's stored bytes (raw and attachments). The person's reason goes to
    the audit log, written by the caller in the same transaction; never to the event log,
    which holds no free text."""
    entry, inbound_id = _held(session, entry_id)
    session.exec(delete(StoredBlob).where(col(StoredBlob.inbound_id) == inbound_id))
    entry.state, entry.resolved_at = QuarantineState.DELETED, now
    session.add(entry)
    record_event(session, EventKind.DELETED, now, inbound_id=inbound_id, reason_kind=entry.kind)
