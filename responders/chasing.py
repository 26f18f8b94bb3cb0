"""Chases of an information request: scheduled when the request is queued, each on its working
day, stopped when the answer comes, the case is decided or closed, or the address bounced.

The steps are rows (``chase_step``), so a restart, or a replayed clock (``run --now``), finds
them; each queues its message under the outbox key (case, kind, request number), so a step
taken twice sends once. A step waits until the one before it went out on an earlier day: after
a week with the daemon stopped, the reminders still go a working day apart, never together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session

from records import outbox
from records.database import Database
from records.events import record_event
from records.tables import (
    Case,
    CaseState,
    ChaseState,
    ChaseStep,
    EventKind,
    OutboundMessage,
)
from responders.compose import ReplyKind
from responders.settings import ChaseSettings, ReplySettings
from triage.calendar import WorkingCalendar
from triage.deadlines import t8_due
from triage.settings import TriageSettings

log = logging.getLogger(__name__)

STEPS = (ReplyKind.CHASE_FIRST, ReplyKind.CHASE_SECOND, ReplyKind.ESCALATION)
_STOPPED_BY_STATE = {
    CaseState.AWAITING_DECISION: "the answer arrived",
    CaseState.DECIDED: "the case was decided",
    CaseState.CLOSED: "the case was closed",
}


def why_stop(session: Session, case: Case, recipient: str) -> str | None:
    """Why chasing the case (at ``recipient``) must stop now, or None to go on."""
    if case.state is not CaseState.AWAITING_INFORMATION:
        return _STOPPED_BY_STATE[case.state]
    if outbox.has_bounced(session, recipient):
        return "the address bounced"
    return None


@dataclass(frozen=True, slots=True)
class ChasePlan:
    needed_by: date  # T8
    days: tuple[date, ...]  # first chase, second chase, escalation


def plan(
    requested_on: date,
    calendar: WorkingCalendar,
    triage: TriageSettings,
    chase: ChaseSettings,
) -> ChasePlan:
    needed_by = t8_due(requested_on, calendar, triage)
    first = calendar.add_working_days(needed_by, chase.first_after)
    second = calendar.add_working_days(first, chase.second_after)
    escalation = calendar.add_working_days(second, chase.escalate_after)
    return ChasePlan(needed_by, (first, second, escalation))


def schedule(session: Session, request: OutboundMessage, chase_plan: ChasePlan) -> None:
    assert request.id is not None and request.case_id is not None
    for number, (kind, day) in enumerate(zip(STEPS, chase_plan.days, strict=True), start=1):
        outbox.schedule_chase(
            session,
            case_id=request.case_id,
            request_id=request.id,
            step=number,
            kind=kind,
            due_on=day,
        )


class Chaser:
    def __init__(
        self,
        db: Database,
        settings: ReplySettings,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def chase_day(self, now: datetime) -> date:
        """The day whose chases may go now: today from ``send_hour``, else yesterday."""
        local = now.astimezone(self.settings.zone)
        return (local - timedelta(hours=self.settings.chase.send_hour)).date()

    def run_pass(self) -> int:
        """Queue every chase due now; how many were queued."""
        now = self.clock()
        today = self.chase_day(now)
        with self.db.session() as session:
            due = [row.id for row in outbox.chases_due(session, today)]
        queued = 0
        for step_id in due:
            assert step_id is not None
            with self.db.session() as session:
                queued += self._take(session, step_id, today, now)
        return queued

    def _take(self, session: Session, step_id: int, today: date, now: datetime) -> int:
        step = session.get(ChaseStep, step_id, with_for_update=True)
        if step is None or step.state != ChaseState.SCHEDULED:
            return 0
        case = session.get(Case, step.case_id)
        request = session.get(OutboundMessage, step.request_id)
        assert case is not None and request is not None
        stop = why_stop(session, case, request.recipient)
        if stop is not None:
            outbox.cancel_chases(session, step.case_id, stop, now)
            return 0
        if not self._previous_went_before(session, step, request, today):
            return 0
        kind = ReplyKind(step.kind)
        recipient = self.settings.coordinator if kind is ReplyKind.ESCALATION else request.recipient
        row = outbox.queue(
            session,
            key=outbox.outbox_key(case.ref, kind, request.step),
            kind=kind,
            recipient=recipient,
            now=now,
            message_id_domain=self.settings.sender.message_id_domain,
            case_id=case.id,
            inbound_id=request.inbound_id,
            step=request.step,
        )
        step.state = ChaseState.QUEUED
        step.outbox_id = row.id
        session.add(step)
        event = EventKind.ESCALATED if kind is ReplyKind.ESCALATION else EventKind.CHASED
        record_event(session, event, now, case_id=case.id, step=step.step, due=step.due.isoformat())
        log.info("chase queued", extra={"case": case.ref, "step": step.step})
        return 1

    def _previous_went_before(
        self, session: Session, step: ChaseStep, request: OutboundMessage, today: date
    ) -> bool:
        if step.step == 1:
            before: OutboundMessage | None = request
        else:
            previous = [s for s in outbox.chases_of(session, request.id or 0) if s.step < step.step]
            last = previous[-1] if previous else None
            if last is None or last.state == ChaseState.SCHEDULED:
                return False
            before = session.get(OutboundMessage, last.outbox_id) if last.outbox_id else None
        if before is None:
            return False
        if before.state in outbox.FAILED_STATES:
            return True  # the reminder could not go: the next step (the escalation) still does
        if before.sent_at is None:
            return False
        return before.sent_at.astimezone(self.settings.zone).date() < today
