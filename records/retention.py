"""Retention: the sealed bytes of what agencies sent, and of what we sent them, removed a
configured time after they stop being needed (domain.md §9).

What goes: the raw messages and their attachments (``stored_blob``: the row is kept, its
bytes emptied and ``purged_at`` set) and the composed copies of our replies
(``outbound_message.sealed``: they quote the person's particulars as much as the forms do;
a copy stays in the mailbox's Sent folder under the council's own mail retention). What is
kept: the cases, forms, fields, corrections, proposals, deadlines, decisions, the ledger
rows (Message-IDs, senders, dates, sizes, sha256) and the event and audit logs.

When (``RetentionPolicy``; a period of 0 switches its rule off):

* a **closed** case: ``closed_case_days`` after it was closed (``case.closed_at``) or last
  changed, whichever is later;
* a **decided** case (nothing closes a case yet; a decision is where the intake's work ends):
  ``decided_case_days`` after it last changed (a decision, or mail landing on it);
* a case with a reply still to send, or being filed, keeps everything until it has gone;
* a message on several cases goes when the last of them expires;
* a **held** quarantined message: ``quarantine_days`` after it was held; its entry becomes
  "deleted", as if a person had deleted it. A message released or reprocessed is on a case
  and follows the case. Our replies about a message that made no case (the "please use
  secure e-mail" reply) go ``quarantine_days`` after its entry was dealt with.

``purge_expired`` works in batches, each one short transaction that locks the rows it
changes, re-checks them under the lock, and writes one ``retention_purge`` audit entry
(counts, case references and quarantine entry ids: never personal data) with its changes.
Running it again purges nothing twice; ``dry_run`` counts what would go and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select, update

from records.audit import AuditAction, audit
from records.database import Database
from records.events import record_event
from records.tables import (
    Case,
    CaseState,
    EventKind,
    Form,
    InboundMessage,
    OutboundMessage,
    OutboxState,
    QuarantineEntry,
    QuarantineState,
    StoredBlob,
)

BATCH = 20  # cases (or quarantine entries) per transaction
AUDIT_ACTION = AuditAction.RETENTION_PURGE
# Replies whose copy is still needed: to be sent, or to be filed in the Sent folder.
BUSY_STATES = (OutboxState.QUEUED, OutboxState.SENDING, OutboxState.FILING)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    closed_case_days: int = 90
    decided_case_days: int = 365
    quarantine_days: int = 30


@dataclass(slots=True)
class PurgeReport:
    dry_run: bool = False
    cases: list[str] = field(default_factory=list)  # references whose stored mail went
    quarantine_entries: list[int] = field(default_factory=list)
    raw_messages: int = 0
    attachments: int = 0
    replies: int = 0
    bytes: int = 0

    @property
    def purged(self) -> int:
        return self.raw_messages + self.attachments + self.replies

    def add(self, other: PurgeReport) -> None:
        self.cases += other.cases
        self.quarantine_entries += other.quarantine_entries
        self.raw_messages += other.raw_messages
        self.attachments += other.attachments
        self.replies += other.replies
        self.bytes += other.bytes

    def detail(self) -> dict[str, Any]:
        """The audit entry's detail: counts and references only."""
        return {
            "cases": self.cases,
            "quarantine_entries": self.quarantine_entries,
            "raw_messages": self.raw_messages,
            "attachments": self.attachments,
            "replies": self.replies,
            "bytes": self.bytes,
        }


def purge_expired(
    db: Database,
    now: datetime,
    policy: RetentionPolicy,
    *,
    dry_run: bool = False,
    user: str = "system",
    batch: int = BATCH,
) -> PurgeReport:
    """Remove (or, ``dry_run``, count) the stored bytes the policy says have expired at
    ``now``. Safe to run at any time beside the daemon and the console, and again."""
    report = PurgeReport(dry_run=dry_run)
    after = 0
    while True:
        with db.session() as session:
            ids = _expired_case_ids(session, now, policy, after, batch)
            if not ids:
                break
            after = ids[-1]
            done = _purge_cases(session, ids, now, policy, dry_run)
            _audit(session, now, user, done)
        report.add(done)
    after = 0
    while True:
        with db.session() as session:
            ids = _expired_entry_ids(session, now, policy, after, batch)
            if not ids:
                break
            after = ids[-1]
            done = _purge_entries(session, ids, now, policy, dry_run)
            _audit(session, now, user, done)
        report.add(done)
    return report


def _audit(session: Session, now: datetime, user: str, done: PurgeReport) -> None:
    if done.purged and not done.dry_run:
        audit(session, now, user, "", AUDIT_ACTION, **done.detail())


# -- cases ---------------------------------------------------------------------------------


def _case_rules(now: datetime, policy: RetentionPolicy) -> list[Any]:
    rules: list[Any] = []
    if policy.closed_case_days:
        cutoff = now - timedelta(days=policy.closed_case_days)
        rules.append(
            sa.and_(
                col(Case.state) == CaseState.CLOSED,
                col(Case.updated_at) <= cutoff,
                sa.or_(col(Case.closed_at).is_(None), col(Case.closed_at) <= cutoff),
            )
        )
    if policy.decided_case_days:
        cutoff = now - timedelta(days=policy.decided_case_days)
        rules.append(sa.and_(col(Case.state) == CaseState.DECIDED, col(Case.updated_at) <= cutoff))
    return rules


def _busy(case_id: Any) -> Any:
    return (
        select(OutboundMessage.id)
        .where(OutboundMessage.case_id == case_id)
        .where(col(OutboundMessage.state).in_(BUSY_STATES))
        .exists()
    )


def _expired_case_ids(
    session: Session, now: datetime, policy: RetentionPolicy, after: int, batch: int
) -> list[int]:
    """The next cases past their retention with something still to remove."""
    rules = _case_rules(now, policy)
    if not rules:
        return []
    holds_blobs = (
        select(StoredBlob.id)
        .join(Form, col(Form.inbound_id) == StoredBlob.inbound_id)
        .where(Form.case_id == Case.id)
        .where(col(StoredBlob.purged_at).is_(None))
        .exists()
    )
    holds_replies = (
        select(OutboundMessage.id)
        .where(OutboundMessage.case_id == Case.id)
        .where(col(OutboundMessage.sealed).is_not(None))
        .exists()
    )
    query = (
        select(Case.id)
        .where(sa.or_(*rules))
        .where(col(Case.id) > after)
        .where(sa.or_(holds_blobs, holds_replies))
        .where(~_busy(Case.id))
        .order_by(col(Case.id))
        .limit(batch)
    )
    return [int(i) for i in session.exec(query).all() if i is not None]


def _expired_among(
    session: Session, case_ids: Sequence[int], now: datetime, policy: RetentionPolicy
) -> set[int]:
    """Which of these cases are past their retention, read now (under the caller's locks)."""
    rules = _case_rules(now, policy)
    if not rules or not case_ids:
        return set()
    query = (
        select(Case.id)
        .where(col(Case.id).in_(case_ids))
        .where(sa.or_(*rules))
        .where(~_busy(Case.id))
    )
    return {int(i) for i in session.exec(query).all() if i is not None}


def _lock(session: Session, query: Any) -> Any:
    """Row locks on PostgreSQL; SQLite's BEGIN IMMEDIATE already made this transaction the
    only writer."""
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update()
    return query


def _purge_cases(
    session: Session, ids: list[int], now: datetime, policy: RetentionPolicy, dry_run: bool
) -> PurgeReport:
    done = PurgeReport(dry_run=dry_run)
    # Intake and decisions change a case's row when mail lands on it or it is decided: with
    # the rows locked, what is re-read below cannot change before this transaction ends.
    cases = session.exec(
        _lock(session, select(Case).where(col(Case.id).in_(ids)).order_by(col(Case.id)))
    ).all()
    expired = _expired_among(session, ids, now, policy)
    pairs = session.exec(
        select(Form.inbound_id, Form.case_id)
        .where(col(Form.case_id).in_(sorted(expired)))
        .distinct()
    ).all()
    messages = sorted({inbound_id for inbound_id, _ in pairs})
    # A message on several cases goes only when every one of them has expired.
    sharing = session.exec(
        select(Form.inbound_id, Form.case_id).where(col(Form.inbound_id).in_(messages)).distinct()
    ).all()
    others = {case_id for _, case_id in sharing} - expired
    others_expired = _expired_among(session, sorted(others), now, policy)
    kept = {m for m, c in sharing if c not in expired and c not in others_expired}
    messages = [m for m in messages if m not in kept]
    touched: set[int] = set()
    blobs = _purge_blobs(session, messages, now, dry_run, done)
    touched |= {case_id for inbound_id, case_id in pairs if inbound_id in blobs}
    replies = _purge_replies(
        session,
        sa.or_(
            col(OutboundMessage.case_id).in_(sorted(expired)),
            sa.and_(
                col(OutboundMessage.case_id).is_(None),
                col(OutboundMessage.inbound_id).in_(messages),
            ),
        ),
        now,
        dry_run,
        done,
    )
    touched |= {case_id for case_id in replies if case_id is not None}
    done.cases = [c.ref for c in cases if c.id in touched]
    return done


def _purge_blobs(
    session: Session, messages: Sequence[int], now: datetime, dry_run: bool, done: PurgeReport
) -> set[int]:
    """Empty the stored blobs of these messages; the messages that had any."""
    if not messages:
        return set()
    where = sa.and_(col(StoredBlob.inbound_id).in_(messages), col(StoredBlob.purged_at).is_(None))
    rows = session.exec(
        _lock(
            session,
            select(StoredBlob.id, StoredBlob.inbound_id, StoredBlob.kind, StoredBlob.size)
            .where(where)
            .order_by(col(StoredBlob.id)),
        )
    ).all()
    for _id, _inbound, kind, size in rows:
        if kind == "raw":
            done.raw_messages += 1
        else:
            done.attachments += 1
        done.bytes += size
    if rows and not dry_run:
        session.exec(
            update(StoredBlob)
            .where(col(StoredBlob.id).in_([row[0] for row in rows]))
            .values(sealed=b"", key_id="", purged_at=now)
        )
    return {row[1] for row in rows}


def _purge_replies(
    session: Session, which: Any, now: datetime, dry_run: bool, done: PurgeReport
) -> list[int | None]:
    """Drop the composed copies of these replies (those sent or ended); their case ids."""
    rows = session.exec(
        _lock(
            session,
            select(OutboundMessage.id, OutboundMessage.case_id, OutboundMessage.sealed)
            .where(which)
            .where(col(OutboundMessage.sealed).is_not(None))
            .where(col(OutboundMessage.state).not_in(BUSY_STATES))
            .order_by(col(OutboundMessage.id)),
        )
    ).all()
    done.replies += len(rows)
    done.bytes += sum(len(sealed or b"") for _id, _case, sealed in rows)
    if rows and not dry_run:
        session.exec(
            update(OutboundMessage)
            .where(col(OutboundMessage.id).in_([row[0] for row in rows]))
            .values(sealed=None, key_id=None, purged_at=now)
        )
    return [case_id for _id, case_id, _sealed in rows]


# -- quarantine ----------------------------------------------------------------------------


def _quarantine_rules(now: datetime, policy: RetentionPolicy) -> Any:
    cutoff = now - timedelta(days=policy.quarantine_days)
    unsent = (
        select(OutboundMessage.id)
        .where(OutboundMessage.inbound_id == QuarantineEntry.inbound_id)
        .where(col(OutboundMessage.case_id).is_(None))
        .where(col(OutboundMessage.state).in_(BUSY_STATES))
        .exists()
    )
    holds_blobs = (
        select(StoredBlob.id)
        .where(StoredBlob.inbound_id == QuarantineEntry.inbound_id)
        .where(col(StoredBlob.purged_at).is_(None))
        .exists()
    )
    holds_replies = (
        select(OutboundMessage.id)
        .where(OutboundMessage.inbound_id == QuarantineEntry.inbound_id)
        .where(col(OutboundMessage.case_id).is_(None))
        .where(col(OutboundMessage.sealed).is_not(None))
        .exists()
    )
    held_too_long = sa.and_(
        col(QuarantineEntry.state) == QuarantineState.HELD,
        col(QuarantineEntry.created_at) <= cutoff,
        sa.or_(holds_blobs, holds_replies),
    )
    dealt_with = sa.and_(
        col(QuarantineEntry.state) != QuarantineState.HELD,
        col(QuarantineEntry.resolved_at) <= cutoff,
        holds_replies,
    )
    return sa.and_(sa.or_(held_too_long, dealt_with), ~unsent)


def _expired_entry_ids(
    session: Session, now: datetime, policy: RetentionPolicy, after: int, batch: int
) -> list[int]:
    if not policy.quarantine_days:
        return []
    query = (
        select(QuarantineEntry.id)
        .where(col(QuarantineEntry.id) > after)
        .where(_quarantine_rules(now, policy))
        .order_by(col(QuarantineEntry.id))
        .limit(batch)
    )
    return [int(i) for i in session.exec(query).all() if i is not None]


def _purge_entries(
    session: Session, ids: list[int], now: datetime, policy: RetentionPolicy, dry_run: bool
) -> PurgeReport:
    done = PurgeReport(dry_run=dry_run)
    # A release or reprocess locks the message's row first (records.ledger.entry): so do we,
    # then read the entries again, as they are now.
    inbound_ids = session.exec(
        select(QuarantineEntry.inbound_id).where(col(QuarantineEntry.id).in_(ids))
    ).all()
    session.exec(
        _lock(
            session,
            select(InboundMessage.id)
            .where(col(InboundMessage.id).in_(inbound_ids))
            .order_by(col(InboundMessage.id)),
        )
    ).all()
    entries = session.exec(
        select(QuarantineEntry)
        .where(col(QuarantineEntry.id).in_(ids))
        .where(_quarantine_rules(now, policy))
        .order_by(col(QuarantineEntry.id))
        .execution_options(populate_existing=True)
    ).all()
    held = [e for e in entries if e.state is QuarantineState.HELD]
    _purge_blobs(session, [e.inbound_id for e in held], now, dry_run, done)
    _purge_replies(
        session,
        sa.and_(
            col(OutboundMessage.case_id).is_(None),
            col(OutboundMessage.inbound_id).in_([e.inbound_id for e in entries]),
        ),
        now,
        dry_run,
        done,
    )
    if not dry_run:
        for entry in held:
            entry.state, entry.resolved_at = QuarantineState.DELETED, now
            session.add(entry)
            record_event(
                session,
                EventKind.DELETED,
                now,
                inbound_id=entry.inbound_id,
                reason_kind=entry.kind,
                by="retention",
            )
    done.quarantine_entries = [e.id for e in entries if e.id is not None]
    return done
