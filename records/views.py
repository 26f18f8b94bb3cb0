"""Read-only summaries in the JSON shapes of contract.md (``cases``, ``quarantine list``,
``status``). The console will read the same functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from records import cases as case_records
from records import health, ledger, outbox
from records.leases import wall_clock
from records.tables import (
    AlertState,
    Case,
    CaseState,
    DeadlineRow,
    InboundMessage,
    MessageState,
    OutboundMessage,
    QuarantineEntry,
    QuarantineState,
)

# (timescale, due, status) -> "missed", "near" or None: triage.slipping, with today's date.
DeadlineFlagger = Callable[[str, date, str], "str | None"]


def case_summary(
    session: Session, case: Case, flag: DeadlineFlagger | None = None
) -> dict[str, Any]:
    assert case.id is not None
    proposal = case_records.current_proposal(session, case.id)
    decision = case_records.latest_decision(session, case.id)
    replies = replies_of(session, case.id)
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
        "deadlines": [_deadline(d, flag) for d in deadlines],
        "replies": [
            {"kind": r.kind, "message_id": r.message_id, "state": r.state} for r in replies
        ],
        "alerts": alerts_of(session, replies),
    }


def _deadline(row: DeadlineRow, flag: DeadlineFlagger | None) -> dict[str, Any]:
    shown: dict[str, Any] = {"id": row.timescale, "due": row.due.isoformat(), "status": row.status}
    flagged = flag(row.timescale, row.due, row.status) if flag else None
    if flagged:
        shown["flag"] = flagged
    return shown


def replies_of(session: Session, case_id: int) -> Sequence[OutboundMessage]:
    """Everything we sent (or will send) on the case, oldest first."""
    return session.exec(
        select(OutboundMessage)
        .where(OutboundMessage.case_id == case_id)
        .order_by(col(OutboundMessage.id))
    ).all()


def alerts_of(session: Session, replies: Sequence[OutboundMessage]) -> list[str]:
    """What the Co-ordinator must see: a reply that bounced, failed or may not be sent."""
    alerts = []
    recipients = {reply.recipient for reply in replies}  # one look-up per address
    bounced = {address for address in recipients if outbox.has_bounced(session, address)}
    for reply in replies:
        if reply.state in outbox.FAILED_STATES:
            alerts.append(f"{reply.kind} {reply.state}: {reply.error}")
        elif reply.recipient in bounced and reply.kind != "escalation":
            alerts.append(f"{reply.kind}: the address {reply.recipient} bounced")
    return list(dict.fromkeys(alerts))


def case_summaries(
    session: Session, state: str | None = None, flag: DeadlineFlagger | None = None
) -> list[dict[str, Any]]:
    query = select(Case).order_by(col(Case.id))
    if state is not None:
        query = query.where(Case.state == state)
    return [case_summary(session, case, flag) for case in session.exec(query).all()]


def quarantine_list(session: Session) -> list[dict[str, Any]]:
    """The held messages, oldest first."""
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
        for entry, message in ledger.quarantine_entries(session, held=True)
    ]


def _count(session: Session, table: type[Any], condition: Any) -> int:
    return int(session.exec(select(sa.func.count()).select_from(table).where(condition)).one())


def status(
    session: Session, flag: DeadlineFlagger | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """``now`` (the real clock) says how long ago each mailbox was read."""
    now = now or wall_clock()
    mailboxes = [
        _mailbox_status(facts, now)
        for facts in health.mailbox_facts(session, health.known_mailboxes(session))
    ]
    failed = outbox.failures(session)
    return {
        "waiting": _count(session, InboundMessage, InboundMessage.state == MessageState.CLAIMED),
        "quarantined": _count(
            session, QuarantineEntry, QuarantineEntry.state == QuarantineState.HELD
        ),
        "cases": case_records.count_by_state(session),
        "mailboxes": mailboxes,
        "outbox_waiting": _count(
            session, OutboundMessage, col(OutboundMessage.state).in_(outbox.PENDING_STATES)
        ),
        "outbox_failures": len(failed),
        "bounced_addresses": len(outbox.bounced(session)),
        "deadlines": _slipping(session, flag),
        "alerts": active_alerts(session),
        "outbox_failed": [_failed_reply(session, row) for row in failed],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _mailbox_status(facts: health.MailboxFacts, now: datetime) -> dict[str, Any]:
    """One mailbox: its last good read (and how long ago), its failure if the last read
    failed, when its OAuth token runs out (if it has one)."""
    read = facts.last_read_at
    return {
        "mailbox": facts.mailbox,
        "last_read": _iso(read),
        "lease_until": _iso(facts.lease_until),
        "last_read_seconds_ago": int((now - read).total_seconds()) if read else None,
        "failing": (
            {
                "kind": facts.failure_kind,
                "since": _iso(facts.failing_since),
                "last": _iso(facts.failed_at),
            }
            if facts.failing
            else None
        ),
        "token_expires": _iso(facts.token_expires_at),
        "last_message": _iso(facts.last_message_at),
    }


def alert_summary(episode: AlertState) -> dict[str, Any]:
    return {
        "kind": episode.kind,
        "subject": episode.subject,
        "episode": episode.episode,
        "since": _iso(episode.since),
        "raised": episode.raised_at.isoformat(),
        "detail": episode.detail,
    }


def active_alerts(session: Session) -> list[dict[str, Any]]:
    """The alert episodes raised and not yet cleared (responders/alerts.py), oldest first."""
    return [alert_summary(episode) for episode in health.open_episodes(session)]


def _failed_reply(session: Session, row: OutboundMessage) -> dict[str, Any]:
    case = session.get(Case, row.case_id) if row.case_id is not None else None
    return {
        "id": row.id,
        "kind": row.kind,
        "case": case.ref if case else None,
        "state": row.state,
        "error": row.error,
    }


def _slipping(session: Session, flag: DeadlineFlagger | None) -> dict[str, list[str]]:
    """The cases not closed whose deadlines are missed or near: {"missed": [refs], ...}."""
    found: dict[str, list[str]] = {"missed": [], "near": []}
    if flag is None:
        return found
    # Decided cases too: after an acceptance the meeting deadline (T4, T5) is what counts.
    open_states = (CaseState.AWAITING_DECISION, CaseState.AWAITING_INFORMATION, CaseState.DECIDED)
    for case in session.exec(
        select(Case).where(col(Case.state).in_(open_states)).order_by(col(Case.id))
    ).all():
        assert case.id is not None
        proposal = case_records.current_proposal(session, case.id)
        if proposal is None or proposal.id is None:
            continue
        flags = {
            flag(d.timescale, d.due, d.status)
            for d in case_records.deadlines_of(session, proposal.id)
        }
        for name in ("missed", "near"):
            if name in flags:
                found[name].append(case.ref)
    return found
