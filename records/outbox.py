"""The outbox: replies queued exactly once, and their way to sent.

A reply is queued under an idempotency key (case, reply kind, step): queueing it again finds
the row already there, so a decision recorded twice, or a chase scheduled by two passes,
makes one message. Its Message-ID is fixed when it is queued. The sender (responders/sender.py)
moves a row along::

    queued -> (composed: sealed bytes stored) -> sending (DATA begun) -> sent -> filed

and the only step that can make a duplicate is a crash after the SMTP DATA exchange began and
before ``sent`` was written: the row's ``data_attempts`` counts those exchanges, and the
message sent again carries the same Message-ID, so a mail client shows it once.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime

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

# The lease (records/leases.py) the one sender of the outbox holds.
OUTBOX_LEASE = "outbox"
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


def due(session: Session, now: datetime, limit: int) -> Sequence[OutboundMessage]:
    """Rows to send now, oldest first: queued and due, or left in SENDING by a killed sender."""
    return session.exec(
        select(OutboundMessage)
        .where(col(OutboundMessage.state).in_(PENDING_STATES))
        .where(OutboundMessage.not_before <= now)
        .order_by(col(OutboundMessage.id))
        .limit(limit)
    ).all()


def awaiting_filing(session: Session, limit: int) -> Sequence[OutboundMessage]:
    return session.exec(
        select(OutboundMessage)
        .where(col(OutboundMessage.state).in_((OutboxState.SENT, OutboxState.FILING)))
        .where(col(OutboundMessage.sealed).is_not(None))
        .order_by(col(OutboundMessage.id))
        .limit(limit)
    ).all()


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


def begin_data(session: Session, row_id: int) -> bool:
    """Note, before the DATA exchange, that it begins; False if the row is no longer ours to
    send (another sender finished it)."""
    row = locked(session, row_id)
    if row.state not in PENDING_STATES:
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
        session.add(row)


def defer(session: Session, row_id: int, until: datetime, error: str, *, failed: bool) -> None:
    """Wait until ``until`` (the rate, or a retry after a passing failure: ``failed``)."""
    row = locked(session, row_id)
    if row.state not in PENDING_STATES:
        return
    row.not_before = until
    row.error = error[:500]
    if failed:
        row.attempts += 1
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
    session.add(row)
    kind = EventKind.CHASE_STOPPED if state is OutboxState.CANCELLED else EventKind.NOT_SENT
    record_event(
        session, kind, now, case_id=row.case_id, reply=row.kind, step=row.step, state=str(state)
    )


def sent_times(session: Session, recipient: str, since: datetime) -> list[datetime]:
    """When messages to ``recipient`` were sent since ``since`` (for the hourly rate)."""
    rows = session.exec(
        select(OutboundMessage.sent_at)
        .where(OutboundMessage.recipient == recipient)
        .where(col(OutboundMessage.sent_at).is_not(None))
        .where(col(OutboundMessage.sent_at) > since)
    ).all()
    return [t for t in rows if t is not None]


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
