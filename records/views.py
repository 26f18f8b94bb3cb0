"""Read-only summaries in the JSON shapes of contract.md (``cases``, ``quarantine list``,
``status``). The console will read the same functions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from records import cases as case_records
from records.tables import (
    Case,
    Decision,
    InboundMessage,
    MailboxLease,
    MessageState,
    OutboundMessage,
    QuarantineEntry,
    QuarantineState,
)


def case_summary(session: Session, case: Case) -> dict[str, Any]:
    assert case.id is not None
    proposal = case_records.current_proposal(session, case.id)
    decision = session.exec(
        select(Decision).where(Decision.case_id == case.id).order_by(col(Decision.id).desc())
    ).first()
    replies = session.exec(
        select(OutboundMessage)
        .where(OutboundMessage.case_id == case.id)
        .order_by(col(OutboundMessage.id))
    ).all()
    deadlines = case_records.deadlines_of(session, proposal.id) if proposal and proposal.id else []
    return {
        "ref": case.ref,
        "state": str(case.state),
        "form_type": case.form_type,
        "category": case.category,
        "messages": case_records.message_ids_of(session, case.id),
        "complete": proposal.complete if proposal else False,
        "missing": list(proposal.missing) if proposal else [],
        "proposal": (
            {"outcome": proposal.outcome, "level": proposal.level, "reasons": proposal.reasons}
            if proposal
            else None
        ),
        "decision": (
            {
                "outcome": decision.outcome,
                "level": decision.level,
                "note": decision.note,
                "by": decision.decided_by,
                "at": decision.decided_at.isoformat(),
            }
            if decision
            else None
        ),
        "deadlines": [
            {"id": d.timescale, "due": d.due.isoformat(), "status": d.status} for d in deadlines
        ],
        "replies": [
            {"kind": r.kind, "message_id": r.message_id, "state": r.state} for r in replies
        ],
    }


def case_summaries(session: Session, state: str | None = None) -> list[dict[str, Any]]:
    query = select(Case).order_by(col(Case.id))
    if state is not None:
        query = query.where(Case.state == state)
    return [case_summary(session, case) for case in session.exec(query).all()]


def quarantine_list(session: Session, *, held_only: bool = True) -> list[dict[str, Any]]:
    query = (
        select(QuarantineEntry, InboundMessage)
        .join(InboundMessage, col(InboundMessage.id) == QuarantineEntry.inbound_id)
        .order_by(col(QuarantineEntry.id))
    )
    if held_only:
        query = query.where(QuarantineEntry.state == QuarantineState.HELD)
    return [
        {
            "id": entry.id,
            "message_id": message.message_id,
            "from": message.from_address,
            "kind": entry.kind,
            "reason": entry.reason,
            "received": message.received_at.isoformat(),
            "state": str(entry.state),
        }
        for entry, message in session.exec(query).all()
    ]


def _count(session: Session, table: type[Any], condition: Any) -> int:
    return int(session.exec(select(sa.func.count()).select_from(table).where(condition)).one())


def status(session: Session) -> dict[str, Any]:
    mailboxes = [
        {
            "mailbox": lease.mailbox,
            "last_read": lease.last_read_at.isoformat() if lease.last_read_at else None,
            "lease_until": lease.expires_at.isoformat(),
        }
        for lease in session.exec(select(MailboxLease).order_by(col(MailboxLease.mailbox))).all()
    ]
    return {
        "waiting": _count(session, InboundMessage, InboundMessage.state == MessageState.CLAIMED),
        "quarantined": _count(
            session, QuarantineEntry, QuarantineEntry.state == QuarantineState.HELD
        ),
        "cases": case_records.count_by_state(session),
        "mailboxes": mailboxes,
        "outbox_failures": _count(session, OutboundMessage, OutboundMessage.state == "failed"),
    }
