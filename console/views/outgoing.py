"""What goes out: the chases (due next, and what became of the earlier ones) and the outbox
(waiting, sent, failed). Read-only pages: the daemon's chaser and sender do the work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select
from starlette.responses import Response

from console.services import ConsoleServices
from console.web import Call, Frame, frame, render
from records import outbox
from records.audit import AuditAction, audit
from records.tables import Case, ChaseState, ChaseStep, OutboundMessage, OutboxState

HISTORY_SHOWN = 200  # the most recent of each list: the rest is in the event log


@dataclass(frozen=True, slots=True)
class ChaseRow:
    ref: str
    kind: str  # chase_first, chase_second, escalation
    step: int
    due: date
    state: str
    urgency: str  # "missed" (due before today and not yet sent) or ""
    reason: str  # why it was stopped
    outbox_state: str  # what became of its message
    sent: datetime | None


@dataclass(frozen=True, slots=True)
class ChasesPageContext:
    frame: Frame
    due: list[ChaseRow]
    history: list[ChaseRow]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    ref: str  # "" for a reply to no case (the secure-e-mail reply)
    kind: str
    recipient: str
    state: str
    queued: datetime
    not_before: datetime
    sent: datetime | None
    attempts: int
    error: str


@dataclass(frozen=True, slots=True)
class OutboxPageContext:
    frame: Frame
    waiting: list[OutboxRow]
    sent: list[OutboxRow]
    failed: list[OutboxRow]


def _chases(session: Session, scheduled: bool, today: date) -> list[ChaseRow]:
    query = (
        select(ChaseStep, Case.ref, OutboundMessage)
        .join(Case, col(Case.id) == ChaseStep.case_id)
        .join(OutboundMessage, col(OutboundMessage.id) == ChaseStep.outbox_id, isouter=True)
    )
    if scheduled:
        query = query.where(ChaseStep.state == ChaseState.SCHEDULED).order_by(
            col(ChaseStep.due), col(ChaseStep.id)
        )
    else:
        query = (
            query.where(ChaseStep.state != ChaseState.SCHEDULED)
            .order_by(col(ChaseStep.due).desc(), col(ChaseStep.id).desc())
            .limit(HISTORY_SHOWN)
        )
    return [
        ChaseRow(
            ref=ref,
            kind=step.kind,
            step=step.step,
            due=step.due,
            state=step.state,
            urgency="missed" if scheduled and step.due < today else "",
            reason=step.reason,
            outbox_state=sent.state if sent else "",
            sent=sent.sent_at if sent else None,
        )
        for step, ref, sent in session.exec(query).all()
    ]


def chases_page(services: ConsoleServices, call: Call) -> Response:
    viewer = call.user()
    today = services.today()
    with services.db.session() as session:
        due, history = _chases(session, True, today), _chases(session, False, today)
        audit(session, services.clock(), viewer.name, viewer.role, AuditAction.VIEW_CHASES)
    return render("chases.html", ChasesPageContext(frame(call, "chases"), due, history))


def _outbox(
    session: Session, states: tuple[OutboxState, ...], newest_first: bool
) -> list[OutboxRow]:
    order = col(OutboundMessage.id).desc() if newest_first else col(OutboundMessage.not_before)
    query = (
        select(OutboundMessage, Case.ref)
        .join(Case, col(Case.id) == OutboundMessage.case_id, isouter=True)
        .where(col(OutboundMessage.state).in_(states))
        .order_by(order)
        .limit(HISTORY_SHOWN)
    )
    return [
        OutboxRow(
            ref=ref or "",
            kind=row.kind,
            recipient=row.recipient,
            state=row.state,
            queued=row.created_at,
            not_before=row.not_before,
            sent=row.sent_at,
            attempts=row.attempts,
            error=row.error,
        )
        for row, ref in session.exec(query).all()
    ]


def outbox_page(services: ConsoleServices, call: Call) -> Response:
    viewer = call.user()
    with services.db.session() as session:
        context = OutboxPageContext(
            frame(call, "outbox"),
            waiting=_outbox(session, outbox.PENDING_STATES, newest_first=False),
            sent=_outbox(session, outbox.SENT_STATES, newest_first=True),
            failed=_outbox(session, outbox.FAILED_STATES, newest_first=True),
        )
        audit(session, services.clock(), viewer.name, viewer.role, AuditAction.VIEW_OUTBOX)
    return render("outbox.html", context)
