"""Key rotation: what each key sealed, and re-sealing it with the key in force.

Every sealed thing carries the id of the key that sealed it: the stored blobs (raw messages
and attachments) and the composed copies of our replies (``outbound_message.sealed``). A
rotation re-seals, in small batches, each one its own short transaction, everything sealed
with another key than the key in force. Each batch locks the rows it takes (on PostgreSQL
``FOR UPDATE SKIP LOCKED``: a row the daemon or the console is changing is left for the next
batch; on SQLite the transaction is ``BEGIN IMMEDIATE``), so the daemon and the console go on
working throughout, and a rotation stopped at any moment is taken up again by running it
again: a row already sealed with the key in force is never touched twice.

Nothing here reads a key: the caller's ``Sealer`` (the keyring) holds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from records.errors import SealError
from records.ledger import sha256
from records.sealing import Sealer
from records.tables import OutboundMessage, StoredBlob

# Rows re-sealed per transaction, and their most bytes (a raw message may be 35 MB; a batch
# holds them in memory twice, and its rows' locks, on SQLite the write lock, while it works).
BATCH = 20
BATCH_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class KeyCount:
    key_id: str
    blobs: int  # stored blobs (raw messages, attachments) it sealed and still holds
    replies: int  # composed copies of our replies


@dataclass(slots=True)
class Resealed:
    blobs: int = 0
    replies: int = 0
    # The rows found sealed with a key the keyring does not hold (the batch stopped there).
    unknown: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.blobs + self.replies


def census(session: Session) -> list[KeyCount]:
    """How many sealed rows each key holds (purged rows hold none), by key id."""
    blobs = dict(
        session.exec(
            select(StoredBlob.key_id, sa.func.count())
            .where(col(StoredBlob.purged_at).is_(None))
            .group_by(StoredBlob.key_id)
        ).all()
    )
    replies = dict(
        session.exec(
            select(OutboundMessage.key_id, sa.func.count())
            .where(col(OutboundMessage.sealed).is_not(None))
            .group_by(OutboundMessage.key_id)
        ).all()
    )
    ids = sorted({*blobs, *(k for k in replies if k is not None)})
    return [KeyCount(k, int(blobs.get(k, 0)), int(replies.get(k, 0))) for k in ids]


def _locked(session: Session, query: Any) -> Any:
    """Row locks on PostgreSQL, skipping rows another transaction holds; SQLite's BEGIN
    IMMEDIATE already made this transaction the only writer."""
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def _within_budget(rows: Sequence[tuple[int | None, int | None]]) -> list[int]:
    """The first rows whose sizes fit in ``BATCH_BYTES`` (always at least one)."""
    chosen: list[int] = []
    total = 0
    for row_id, size in rows:
        total += size or 0
        if row_id is None or (chosen and total > BATCH_BYTES):
            break
        chosen.append(row_id)
    return chosen


def reseal_batch(session: Session, sealer: Sealer) -> Resealed:
    """Re-seal up to ``BATCH`` stored blobs (or, once none is left, replies) sealed with
    another key than the key in force, in the caller's transaction. It stops at a row whose
    key the keyring does not hold (``unknown``). Nothing found: all done, or what is left is
    locked by another transaction (PostgreSQL). Raises SealError if a row's key is one the
    keyring holds but its bytes do not open, or do not match their sha256."""
    done = Resealed()
    sizes = session.exec(
        _locked(
            session,
            select(StoredBlob.id, StoredBlob.size)
            .where(col(StoredBlob.purged_at).is_(None))
            .where(StoredBlob.key_id != sealer.key_id)
            .order_by(col(StoredBlob.id))
            .limit(BATCH),
        )
    ).all()
    blobs: Sequence[StoredBlob] = session.exec(
        select(StoredBlob)
        .where(col(StoredBlob.id).in_(_within_budget(sizes)))
        .order_by(col(StoredBlob.id))
    ).all()
    for blob in blobs:
        if not sealer.opens(blob.key_id):
            done.unknown.append(blob.key_id)
            return done
        try:
            data = sealer.open(blob.sealed, blob.key_id)
        except SealError as err:
            raise SealError(f"stored blob {blob.id}: {err}") from err
        if sha256(data) != blob.sha256:
            raise SealError(f"stored blob {blob.id}: its bytes do not match their sha256")
        blob.sealed, blob.key_id = sealer.seal(data), sealer.key_id
        session.add(blob)
        done.blobs += 1
    if blobs:
        return done
    reply_sizes = session.exec(
        _locked(
            session,
            select(OutboundMessage.id, sa.func.length(OutboundMessage.sealed))
            .where(col(OutboundMessage.sealed).is_not(None))
            .where(col(OutboundMessage.key_id) != sealer.key_id)
            .order_by(col(OutboundMessage.id))
            .limit(BATCH),
        )
    ).all()
    replies: Sequence[OutboundMessage] = session.exec(
        select(OutboundMessage)
        .where(col(OutboundMessage.id).in_(_within_budget(reply_sizes)))
        .order_by(col(OutboundMessage.id))
    ).all()
    for reply in replies:
        assert reply.sealed is not None and reply.key_id is not None
        if not sealer.opens(reply.key_id):
            done.unknown.append(reply.key_id)
            return done
        try:
            data = sealer.open(reply.sealed, reply.key_id)
        except SealError as err:
            raise SealError(f"reply {reply.id}: {err}") from err
        reply.sealed, reply.key_id = sealer.seal(data), sealer.key_id
        session.add(reply)
        done.replies += 1
    return done
