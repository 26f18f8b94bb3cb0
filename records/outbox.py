"""The outbox: replies queued exactly once, and their way to sent.

A reply is queued under an idempotency key (case, reply kind, step): queueing it again finds
the row already there, so a decision recorded twice, or a chase scheduled by two passes,
makes one message. Its Message-ID is fixed when it is queued. The sender (responders/sender.py)
moves a row along::

    queued -> (composed: sealed bytes stored) -> sending (DATA begun) -> sent -> filed

and the only step that can make a duplicate is a crash after the SMTP DATA exchange began and
before ``sent`` was written: the row's ``data_attempts`` counts those exchanges, and the
message sent again carries the same Message-ID, so a mail client shows it once.

Any number of senders (one per daemon) share the outbox. A sender *takes* one row at a time
with ``SELECT ... FOR UPDATE SKIP LOCKED`` and marks it as its own for a while (``taken_by``,
``taken_until``), as the parsing of claimed messages does (records/ledger.py); a row whose
sender died passes on at once (same host) or when the mark runs out. The per-recipient hourly
rate stays exact across senders: a row is *admitted* (``admitted_at``: its place in the rate)
while the recipient is locked (a PostgreSQL advisory lock; SQLite has one writer at a time),
so two senders never both see room for one more message.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Callable, Collection, Sequence
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from intake.envelope import our_message_id
from records.events import record_event
from records.sealing import Sealer
from records.tables import (
    BouncedAddress,
    ChaseState,
    ChaseStep,
    EventKind,
    OutboundMessage,
    OutboxState,
)
from records.taking import take_one

# How long a sender may work on one row before another may take it over (one that died on
# this host is passed over at once). One SMTP exchange, or one APPEND, is bounded by the
# transport's timeouts, far below this.
TAKE_TTL = timedelta(minutes=10)
# The first key of the recipients' advisory locks (the second is the address's checksum);
# any fixed number, apart from the migrations' single-key lock (records/migrations/env.py).
_RECIPIENT_LOCKS = 7320
# Rows still to be sent: a row left in SENDING had its sender stopped during the DATA exchange.
PENDING_STATES = (OutboxState.QUEUED, OutboxState.SENDING)
# Accepted by the mail server (and perhaps filed in Sent, or being filed).
SENT_STATES = (OutboxState.SENT, OutboxState.FILING, OutboxState.FILED)
# Never to go: the server refused it for good, or the recipient is not allow-listed.
FAILED_STATES = (OutboxState.FAILED, OutboxState.REFUSED)


def outbox_key(scope: str, kind: str, step: int = 0) -> str:
    """``MAPPA-2026-0042.acknowledgement.0``; ``inbound-17.secure_email.0`` for no case."""
    return f"{scope}.{kind}.{step}"


def queue(
    session: Session,
    *,
    key: str,
    kind: str,
    recipient: str,
    now: datetime,
    message_id_domain: str,
    case_id: int | None = None,
    inbound_id: int | None = None,
    decision_id: int | None = None,
    step: int = 0,
) -> OutboundMessage:
    """The row for ``key``: made now, or the one made before (idempotent)."""
    found = by_key(session, key)
    if found is not None:
        return found
    row = OutboundMessage(
        key=key,
        case_id=case_id,
        inbound_id=inbound_id,
        decision_id=decision_id,
        kind=kind,
        step=step,
        recipient=recipient,
        # The key makes it readable in a mail log; the random part keeps it unique across
        # installations and a database rebuilt from scratch.
        message_id=our_message_id(f"{key}.{secrets.token_hex(6)}", message_id_domain),
        state=OutboxState.QUEUED,
        not_before=now,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another process queued it first (PostgreSQL)
        found = by_key(session, key)
        assert found is not None
        return found
    record_event(session, EventKind.QUEUED, now, case_id=case_id, reply=kind, step=step)
    return row


def by_key(session: Session, key: str) -> OutboundMessage | None:
    return session.exec(select(OutboundMessage).where(OutboundMessage.key == key)).first()


def take_due(
    session: Session,
    holder: str,
    now: datetime,
    taken_now: datetime,
    is_dead: Callable[[str], bool],
    skip: Collection[int] = (),
) -> OutboundMessage | None:
    """The oldest row to send at ``now`` (queued and due, or left in SENDING by a sender
    stopped mid-way) that no living sender is working on, now marked as ``holder``'s until
    ``taken_now`` + TAKE_TTL (the real clock; ``now`` is the domain clock, which ``--now``
    replays) and locked until the caller's transaction ends (records/taking.py); or None.
    ``skip``: rows the caller dealt with in this pass."""
    wanted = (
        col(OutboundMessage.state).in_(PENDING_STATES),
        col(OutboundMessage.not_before) <= now,
    )
    return _take(session, wanted, holder, taken_now, is_dead, skip)


def take_unfiled(
    session: Session,
    holder: str,
    taken_now: datetime,
    is_dead: Callable[[str], bool],
    skip: Collection[int] = (),
) -> OutboundMessage | None:
    """The oldest sent row whose copy is still to be filed in the Sent folder (or whose
    filing was begun by a sender that stopped), taken as ``take_due`` takes one."""
    wanted = (
        col(OutboundMessage.state).in_((OutboxState.SENT, OutboxState.FILING)),
        col(OutboundMessage.sealed).is_not(None),
    )
    return _take(session, wanted, holder, taken_now, is_dead, skip)


def _take(
    session: Session,
    wanted: tuple[sa.ColumnElement[bool], ...],
    holder: str,
    taken_now: datetime,
    is_dead: Callable[[str], bool],
    skip: Collection[int],
) -> OutboundMessage | None:
    return take_one(
        session,
        OutboundMessage,
        wanted,
        holder=holder,
        now=taken_now,
        ttl=TAKE_TTL,
        is_dead=is_dead,
        skip=skip,
    )


def let_go(session: Session, holder: str) -> None:
    """A sender that stops hands back the rows it was working on (a stop by SIGKILL leaves
    them to the dead-holder rule or TAKE_TTL)."""
    session.execute(
        sa.update(OutboundMessage)
        .where(col(OutboundMessage.taken_by) == holder)
        .values(taken_by=None, taken_until=None)
    )


def admit(session: Session, row: OutboundMessage, now: datetime, per_hour: int) -> datetime | None:
    """Give ``row`` its place in its recipient's hourly rate (at most ``per_hour`` messages
    to one address in any hour, so a loop or a flood never becomes a mail storm), or say when
    it may have one. A row admitted less than an hour ago keeps its place (its sender stopped
    before the message went). The recipient is locked until the transaction ends, so two
    senders admit one at a time."""
    hour_ago = now - timedelta(hours=1)
    if row.admitted_at is not None and row.admitted_at > hour_ago:
        return None
    _lock_recipient(session, row.recipient)
    admitted = session.exec(
        select(OutboundMessage.admitted_at)
        .where(sa.func.lower(OutboundMessage.recipient) == row.recipient.lower())
        .where(OutboundMessage.id != row.id)
        .where(col(OutboundMessage.admitted_at) > hour_ago)
    ).all()
    when = next_send_time([t for t in admitted if t is not None], now, per_hour)
    if when > now:
        return when
    row.admitted_at = now
    session.add(row)
    return None


def _lock_recipient(session: Session, recipient: str) -> None:
    """Held until the transaction ends. SQLite needs none: its transactions begin with the
    write lock (records/database.py), so they run one at a time."""
    if session.get_bind().dialect.name != "postgresql":
        return
    # A stable 32-bit number for the address; a collision only makes two addresses wait
    # for each other a moment.
    key = zlib.crc32(recipient.lower().encode("utf-8")) - 2**31  # an int4, as PostgreSQL wants
    session.execute(
        sa.text("SELECT pg_advisory_xact_lock(:space, :key)"),
        {"space": _RECIPIENT_LOCKS, "key": key},
    )


def next_send_time(sent: Sequence[datetime], now: datetime, per_hour: int) -> datetime:
    """When the next message to one recipient may go, given when those before it were
    admitted: at most ``per_hour`` in any hour."""
    hour_ago = now - timedelta(hours=1)
    recent = sorted(t for t in sent if t > hour_ago)
    if len(recent) < per_hour:
        return now
    return recent[len(recent) - per_hour] + timedelta(hours=1)


def request_of(session: Session, case_id: int, step: int) -> OutboundMessage | None:
    """The information request number ``step`` of the case (what a chase follows up)."""
    return session.exec(
        select(OutboundMessage)
        .where(OutboundMessage.case_id == case_id)
        .where(OutboundMessage.kind == "request_info")
        .where(OutboundMessage.step == step)
    ).first()


def locked(session: Session, row_id: int) -> OutboundMessage:
    row = session.get(OutboundMessage, row_id, with_for_update=True)
    assert row is not None
    return row


def store_composed(session: Session, row_id: int, raw: bytes, sealer: Sealer) -> OutboundMessage:
    """Keep the composed message (sealed: it names the person) unless a racing sender did."""
    row = locked(session, row_id)
    if row.sealed is None:
        row.key_id = sealer.key_id
        row.sealed = sealer.seal(raw)
        session.add(row)
    return row


def composed_bytes(row: OutboundMessage, sealer: Sealer) -> bytes:
    assert row.sealed is not None and row.key_id is not None
    return sealer.open(row.sealed, row.key_id)


def begin_data(session: Session, row_id: int, holder: str) -> bool:
    """Note, before the DATA exchange, that it begins; False if the row is no longer
    ``holder``'s to send (another sender took it over, or finished it)."""
    row = locked(session, row_id)
    if row.state not in PENDING_STATES or row.taken_by != holder:
        return False
    row.state = OutboxState.SENDING
    row.data_attempts += 1
    session.add(row)
    return True


def mark_sent(session: Session, row_id: int, now: datetime) -> None:
    row = locked(session, row_id)
    if row.state in PENDING_STATES:
        row.state = OutboxState.SENT
        row.sent_at = now
        row.error = ""
        _hand_back(row)
        session.add(row)
        record_event(
            session, EventKind.REPLIED, now, case_id=row.case_id, reply=row.kind, step=row.step
        )


def begin_filing(session: Session, row_id: int) -> bool:
    """Note that the copy's APPEND begins; True if one was begun before (a stop came between
    it and ``mark_filed``), so the folder must be looked at first."""
    row = locked(session, row_id)
    if row.state == OutboxState.FILING:
        return True
    row.state = OutboxState.FILING
    session.add(row)
    return False


def mark_filed(session: Session, row_id: int, now: datetime) -> None:
    row = locked(session, row_id)
    if row.state in (OutboxState.SENT, OutboxState.FILING):
        row.state = OutboxState.FILED
        row.filed_at = now
        _hand_back(row)
        session.add(row)


def defer(session: Session, row_id: int, until: datetime, error: str, *, failed: bool) -> None:
    """Wait until ``until`` (the rate, or a retry after a passing failure: ``failed``)."""
    row = locked(session, row_id)
    if row.state not in PENDING_STATES:
        return
    row.not_before = until
    row.error = error[:500]
    _hand_back(row)  # when it is due again, any sender may take it
    if failed:
        row.attempts += 1
        row.admitted_at = None  # nothing went: its place in the rate is free again
    if row.state == OutboxState.SENDING and failed:
        row.state = OutboxState.QUEUED  # the server said no to this DATA: nothing delivered
    session.add(row)


def finish(session: Session, row_id: int, state: OutboxState, reason: str, now: datetime) -> None:
    """End a row without sending it: cancelled, refused or failed for good."""
    row = locked(session, row_id)
    if row.state not in PENDING_STATES:
        return
    row.state = state
    row.error = reason[:500]
    row.admitted_at = None
    _hand_back(row)
    session.add(row)
    kind = EventKind.CHASE_STOPPED if state is OutboxState.CANCELLED else EventKind.NOT_SENT
    record_event(
        session, kind, now, case_id=row.case_id, reply=row.kind, step=row.step, state=str(state)
    )


def _hand_back(row: OutboundMessage) -> None:
    row.taken_by = None
    row.taken_until = None


def failures(session: Session) -> Sequence[OutboundMessage]:
    return session.exec(
        select(OutboundMessage)
        .where(col(OutboundMessage.state).in_(FAILED_STATES))
        .order_by(col(OutboundMessage.id))
    ).all()


# -- chases ---------------------------------------------------------------------------------


def schedule_chase(
    session: Session, *, case_id: int, request_id: int, step: int, kind: str, due_on: date
) -> ChaseStep:
    """One chase step of a request; scheduling it again finds the row already there."""
    found = session.exec(
        select(ChaseStep).where(ChaseStep.request_id == request_id, ChaseStep.step == step)
    ).first()
    if found is not None:
        return found
    row = ChaseStep(
        case_id=case_id,
        request_id=request_id,
        step=step,
        kind=kind,
        due=due_on,
        state=ChaseState.SCHEDULED,
    )
    session.add(row)
    session.flush()
    return row


def chases_due(session: Session, today: date) -> Sequence[ChaseStep]:
    return session.exec(
        select(ChaseStep)
        .where(ChaseStep.state == ChaseState.SCHEDULED)
        .where(ChaseStep.due <= today)
        .order_by(col(ChaseStep.due), col(ChaseStep.id))
    ).all()


def chases_of(session: Session, request_id: int) -> Sequence[ChaseStep]:
    return session.exec(
        select(ChaseStep).where(ChaseStep.request_id == request_id).order_by(col(ChaseStep.step))
    ).all()


def cancel_chases(session: Session, case_id: int, reason: str, now: datetime) -> int:
    """Stop every chase of the case still to come; how many were stopped."""
    stopped = 0
    for row in session.exec(
        select(ChaseStep)
        .where(ChaseStep.case_id == case_id)
        .where(ChaseStep.state == ChaseState.SCHEDULED)
        .with_for_update()
    ).all():
        row.state = ChaseState.CANCELLED
        row.reason = reason[:300]
        session.add(row)
        stopped += 1
    if stopped:
        record_event(session, EventKind.CHASE_STOPPED, now, case_id=case_id, reason=reason)
    return stopped


# -- bounced addresses ----------------------------------------------------------------------


def note_bounce(
    session: Session, address: str, status: str, message_id: str | None, now: datetime
) -> bool:
    """Remember a permanently failed address; False if it was known already."""
    found = session.get(BouncedAddress, address.lower())
    if found is not None:
        return False
    session.add(
        BouncedAddress(
            address=address.lower(), status=status, message_id=message_id, bounced_at=now
        )
    )
    return True


def has_bounced(session: Session, address: str) -> bool:
    return session.get(BouncedAddress, address.lower()) is not None


def by_message_id(session: Session, message_id: str) -> OutboundMessage | None:
    return session.exec(
        select(OutboundMessage).where(OutboundMessage.message_id == message_id)
    ).first()


def bounced(session: Session) -> Sequence[BouncedAddress]:
    return session.exec(select(BouncedAddress).order_by(col(BouncedAddress.bounced_at))).all()
