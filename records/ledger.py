"""The inbound-message ledger: every message is claimed here, with its sealed raw bytes, in
one transaction, before anything else is done with it.

A message's **place** (mailbox, folder, UIDVALIDITY, UID) is unique in the table, so no place
can be claimed twice, whoever tries. The **same message** seen at another place (the server
renumbered the folder, someone copied it back into the inbox) is recognised by its sha256 and
Message-ID, and the existing row is moved to the new place instead of a second row being made.
A reused Message-ID with different bytes is a different message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from records.errors import NotFound, Purged
from records.events import record_event
from records.sealing import Sealer
from records.tables import (
    EventKind,
    InboundMessage,
    MessageState,
    QuarantineEntry,
    QuarantineState,
    StoredBlob,
)
from records.taking import take_one


@dataclass(frozen=True, slots=True)
class Place:
    mailbox: str
    folder: str
    uidvalidity: int
    uid: str


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the ledger keeps in the clear about a message (the rest is sealed)."""

    message_id: str | None
    from_address: str | None
    sent_at: datetime | None
    delivered_at: datetime | None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def find_at(session: Session, place: Place) -> InboundMessage | None:
    return session.exec(
        select(InboundMessage).where(
            InboundMessage.mailbox == place.mailbox,
            InboundMessage.folder == place.folder,
            InboundMessage.uidvalidity == place.uidvalidity,
            InboundMessage.uid == place.uid,
        )
    ).first()


def find_same(
    session: Session, mailbox: str, digest: str, message_id: str | None
) -> InboundMessage | None:
    """The message already in the ledger with these bytes and this Message-ID, if any."""
    query = select(InboundMessage).where(
        InboundMessage.mailbox == mailbox, InboundMessage.sha256 == digest
    )
    if message_id is None:
        query = query.where(col(InboundMessage.message_id).is_(None))
    else:
        query = query.where(InboundMessage.message_id == message_id)
    return session.exec(query.order_by(col(InboundMessage.id))).first()


def claim(
    session: Session,
    place: Place,
    raw: bytes,
    envelope: Envelope,
    sealer: Sealer,
    now: datetime,
) -> InboundMessage:
    """Record the message and its sealed raw bytes. The caller's transaction makes it one."""
    message = InboundMessage(
        mailbox=place.mailbox,
        folder=place.folder,
        uidvalidity=place.uidvalidity,
        uid=place.uid,
        message_id=envelope.message_id,
        sha256=sha256(raw),
        size=len(raw),
        from_address=envelope.from_address,
        sent_at=envelope.sent_at,
        delivered_at=envelope.delivered_at,
        received_at=now,
        state=MessageState.CLAIMED,
    )
    session.add(message)
    session.flush()
    assert message.id is not None
    store_blob(session, message.id, "raw", "", raw, sealer)
    record_event(session, EventKind.RECEIVED, now, inbound_id=message.id, size=len(raw))
    return message


def relocate(session: Session, message: InboundMessage, place: Place) -> None:
    """The same message found at a new place: follow it there (and out of it again)."""
    message.folder, message.uidvalidity, message.uid = place.folder, place.uidvalidity, place.uid
    message.moved_at = None
    session.add(message)


def store_blob(
    session: Session, inbound_id: int, kind: str, name: str, data: bytes, sealer: Sealer
) -> None:
    session.add(
        StoredBlob(
            inbound_id=inbound_id,
            kind=kind,
            name=name,
            sha256=sha256(data),
            size=len(data),
            key_id=sealer.key_id,
            sealed=sealer.seal(data),
        )
    )


def raw_bytes(session: Session, inbound_id: int, sealer: Sealer) -> bytes:
    blob = session.exec(
        select(StoredBlob).where(StoredBlob.inbound_id == inbound_id, StoredBlob.kind == "raw")
    ).first()
    if blob is None:
        raise NotFound(f"message {inbound_id}: no stored raw bytes")
    return open_blob(blob, sealer)


def attachment_bytes(session: Session, inbound_id: int, name: str, sealer: Sealer) -> bytes:
    """An attachment of the message as it came (the first of that name)."""
    blob = session.exec(
        select(StoredBlob)
        .where(
            StoredBlob.inbound_id == inbound_id,
            StoredBlob.kind == "attachment",
            StoredBlob.name == name,
        )
        .order_by(col(StoredBlob.id))
    ).first()
    if blob is None:
        raise NotFound(f"message {inbound_id}: no stored attachment {name!r}")
    return open_blob(blob, sealer)


def open_blob(blob: StoredBlob, sealer: Sealer) -> bytes:
    """The blob's bytes; ``Purged`` if the retention policy removed them."""
    if blob.purged_at is not None:
        raise Purged(blob.purged_at.date())
    return sealer.open(blob.sealed, blob.key_id)


def begin_attempt(session: Session, message: InboundMessage) -> int:
    message.attempts += 1
    session.add(message)
    return message.attempts


def _entry_of(session: Session, inbound_id: int | None) -> QuarantineEntry | None:
    return session.exec(
        select(QuarantineEntry).where(QuarantineEntry.inbound_id == inbound_id)
    ).first()


def quarantine(
    session: Session, message: InboundMessage, kind: str, reason: str, now: datetime
) -> None:
    """Hold the message with its reason (the entry is reused if it was held before)."""
    assert message.id is not None
    entry = _entry_of(session, message.id)
    if entry is None:
        entry = QuarantineEntry(
            inbound_id=message.id,
            kind=kind,
            reason=reason,
            state=QuarantineState.HELD,
            created_at=now,
        )
    else:
        entry.kind, entry.reason = kind, reason
        entry.state, entry.resolved_at = QuarantineState.HELD, None
    session.add(entry)
    message.state = MessageState.QUARANTINED
    session.add(message)
    record_event(session, EventKind.QUARANTINED, now, inbound_id=message.id, reason_kind=kind)


def is_held(session: Session, message: InboundMessage) -> bool:
    entry = _entry_of(session, message.id)
    return entry is not None and entry.state is QuarantineState.HELD


def resolve_quarantine(
    session: Session, message: InboundMessage, state: QuarantineState, now: datetime
) -> None:
    entry = _entry_of(session, message.id)
    if entry is not None and entry.state is QuarantineState.HELD:
        entry.state, entry.resolved_at = state, now
        session.add(entry)
        record_event(session, EventKind.RELEASED, now, inbound_id=message.id, how=str(state))


def mark_processed(session: Session, message: InboundMessage) -> None:
    message.state = MessageState.PROCESSED
    session.add(message)


def mark_moved(session: Session, message_id: int, now: datetime) -> None:
    message = session.get(InboundMessage, message_id)
    if message is not None and message.moved_at is None:
        message.moved_at = now
        session.add(message)


# How long a process may read one claimed message before another may take it over (one that
# died on this host is passed over at once). Reading a message is bounded by the parse limits,
# far below this; a slow reader that is overtaken wastes work, never doubles a case, since the
# outcome commits only while the message is still claimed (intake/processing.py).
TAKE_TTL = timedelta(minutes=10)


def take_claimed(
    session: Session,
    mailbox: str,
    holder: str,
    now: datetime,
    is_dead: Callable[[str], bool],
    skip: Collection[int] = (),
) -> InboundMessage | None:
    """The oldest claimed message of ``mailbox`` that no living process is reading, now
    marked as read by ``holder`` (and its attempt counted), or None; ``skip``: rows the
    caller tried already in this round (one it could not finish waits for the next round).
    A row another daemon is taking at this moment is passed over (records/taking.py)."""
    row = take_one(
        session,
        InboundMessage,
        (
            col(InboundMessage.mailbox) == mailbox,
            col(InboundMessage.state) == MessageState.CLAIMED,
        ),
        holder=holder,
        now=now,
        ttl=TAKE_TTL,
        is_dead=is_dead,
        skip=skip,
    )
    if row is not None:
        begin_attempt(session, row)
    return row


def awaiting_move(session: Session, mailbox: str) -> Sequence[InboundMessage]:
    """Finished in the ledger but maybe still in the inbox (the process stopped before the
    move, or the move was not acknowledged)."""
    return session.exec(
        select(InboundMessage)
        .where(
            InboundMessage.mailbox == mailbox,
            InboundMessage.state != MessageState.CLAIMED,
            col(InboundMessage.moved_at).is_(None),
        )
        .order_by(col(InboundMessage.id))
    ).all()


def quarantine_entries(
    session: Session, *, held: bool, limit: int | None = None
) -> Sequence[tuple[QuarantineEntry, InboundMessage]]:
    """The held entries, oldest first; or (``held`` False) those dealt with, latest first."""
    query = select(QuarantineEntry, InboundMessage).join(
        InboundMessage, col(InboundMessage.id) == QuarantineEntry.inbound_id
    )
    if held:
        query = query.where(QuarantineEntry.state == QuarantineState.HELD).order_by(
            col(QuarantineEntry.id)
        )
    else:
        query = query.where(QuarantineEntry.state != QuarantineState.HELD).order_by(
            col(QuarantineEntry.resolved_at).desc(), col(QuarantineEntry.id).desc()
        )
    return session.exec(query.limit(limit)).all()


def entry(
    session: Session, entry_id: int, *, lock: bool = False
) -> tuple[QuarantineEntry, InboundMessage]:
    """``lock``: hold the message's row until the transaction ends (as intake does)."""
    found = session.get(QuarantineEntry, entry_id)
    if found is None:
        raise NotFound(f"no quarantine entry {entry_id}")
    message = session.get(InboundMessage, found.inbound_id, with_for_update=lock)
    assert message is not None
    return found, message


def receipt_time(message: InboundMessage, now: datetime) -> datetime:
    """When the message reached the mailbox: the server's delivery time if it gave one (and
    it is not after our clock, which may be replaying the past), else its Date, else now."""
    for when in (message.delivered_at, message.sent_at):
        if when is not None and when <= now:
            return when
    return now
