"""What a reply may say about its case, read from the records: the ReplyContext.

Only what the agency sent and what the Co-ordinator decided: the person is named as the form
named them (forenames and surname as written), nothing is looked up elsewhere.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from records import cases as case_records
from records import ledger, outbox
from records.tables import (
    Case,
    ChaseState,
    Decision,
    InboundMessage,
    OutboundMessage,
)
from responders.compose import ReplyKind
from responders.settings import ReplySettings
from responders.templates import ReplyContext
from responders.wording import form_name, missing_items
from triage.calendar import WorkingCalendar
from triage.deadlines import t4_due, t5_due, t8_due
from triage.proposal import outward_code
from triage.settings import TriageSettings

UNNAMED = "the person named in the form"


def person_as_named(values: dict[str, Any]) -> str:
    parts = [values.get("person.forenames"), values.get("person.surname")]
    named = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return named or UNNAMED


class ContextBuilder:
    def __init__(
        self, settings: ReplySettings, triage: TriageSettings, calendar: WorkingCalendar
    ) -> None:
        self.settings = settings
        self.triage = triage
        self.calendar = calendar

    def local_date(self, when: datetime) -> date:
        return when.astimezone(self.settings.zone).date()

    def needed_by(self, requested_on: date) -> date:
        return t8_due(requested_on, self.calendar, self.triage)

    def _base(self, received: date) -> ReplyContext:
        return ReplyContext(
            case_ref="",
            marking=self.settings.sender.marking,
            signature=self.settings.signature,
            received=received,
        )

    def for_row(self, session: Session, row: OutboundMessage) -> ReplyContext:
        if row.case_id is None:  # the secure-e-mail reply: only when the message came
            inbound = session.get(InboundMessage, row.inbound_id) if row.inbound_id else None
            arrived = ledger.receipt_time(inbound, inbound.received_at) if inbound else None
            return self._base(self.local_date(arrived or row.created_at))
        case = session.get(Case, row.case_id)
        assert case is not None
        context, values = self._of_case(session, case)
        decision = session.get(Decision, row.decision_id) if row.decision_id else None
        if decision is not None:
            context = self._with_decision(context, case, decision, values)
        kind = ReplyKind(row.kind)
        if kind in (ReplyKind.CHASE_FIRST, ReplyKind.CHASE_SECOND, ReplyKind.ESCALATION):
            context = self._with_request(session, context, row)
        return context

    def for_decision(self, session: Session, case: Case, decision: Decision) -> ReplyContext:
        """The context of ``decision``'s reply (the decision may not be saved yet: the
        console shows the reply before it is approved)."""
        context, values = self._of_case(session, case)
        return self._with_decision(context, case, decision, values)

    def preview(self, session: Session, case: Case, name: str, now: datetime) -> ReplyContext:
        """A context for showing template ``name`` on ``case``: its newest decision, else one
        taken from the proposal (an acceptance preview at the level its name says)."""
        assert case.id is not None
        context, values = self._of_case(session, case)
        decision = case_records.latest_decision(session, case.id)
        proposal = case_records.current_proposal(session, case.id)
        if decision is None:
            decision = Decision(
                case_id=case.id,
                outcome=proposal.outcome if proposal else "record",
                level=proposal.level if proposal else None,
                reasons=list(proposal.reasons) if proposal and proposal.outcome != "accept" else [],
                decided_by="",
                decided_at=now,
            )
        wanted = {"acceptance_level2": 2, "acceptance_level3": 3}.get(name)
        if wanted is not None:
            decision = Decision(**{**decision.model_dump(), "outcome": "accept", "level": wanted})
            context = _replace(context, referred_level=None)
        context = self._with_decision(context, case, decision, values)
        if name in ("chase_first", "chase_second", "escalation"):
            requested_on = self.local_date(decision.decided_at)
            messages = case_records.messages_of(session, case.id)
            context = _replace(
                context,
                requested_on=requested_on,
                needed_by=self.needed_by(requested_on),
                recipient=(messages[0].from_address or "") if messages else "",
            )
        return context

    def _of_case(self, session: Session, case: Case) -> tuple[ReplyContext, dict[str, Any]]:
        """What any reply on the case may say, and the case's fields (read once)."""
        assert case.id is not None
        values = case_records.merged_fields(session, case.id)
        context = _replace(
            self._base(self.local_date(case.received_at)),
            case_ref=case.ref,
            form_name=form_name(case.form_type),
            person=person_as_named(values),
            agency=_agency(values, session, case.id),
            referred_level=_level(values.get("level.proposed")),
            missing=self._missing(session, case.id),
        )
        return context, values

    def _missing(self, session: Session, case_id: int) -> tuple[str, ...]:
        proposal = case_records.current_proposal(session, case_id)
        if proposal is None:
            return ()
        return missing_items(proposal.missing, proposal.missing_reasons)

    def _with_decision(
        self, context: ReplyContext, case: Case, decision: Decision, values: dict[str, Any]
    ) -> ReplyContext:
        decided = self.local_date(decision.decided_at)
        received = self.local_date(case.received_at)
        reasons = tuple(decision.reasons or ())
        meeting_by = None
        if decision.outcome == "accept" and decision.level == 2:
            meeting_by = t4_due(received, self.calendar, self.triage)
        elif decision.outcome == "accept" and decision.level == 3:
            meeting_by = t5_due(received, self.calendar, self.triage)
        postcode = values.get("person.postcode")
        return _replace(
            context,
            level=decision.level,
            meeting_by=meeting_by,
            reasons=reasons,
            # Items the Co-ordinator asks for besides the missing fields.
            missing=context.missing + (reasons if decision.outcome == "request_info" else ()),
            requested_on=decided,
            needed_by=self.needed_by(decided) if decision.outcome == "request_info" else None,
            area=(outward_code(postcode) or "") if isinstance(postcode, str) else "",
        )

    def _with_request(
        self, session: Session, context: ReplyContext, row: OutboundMessage
    ) -> ReplyContext:
        """A chase or an escalation: the request it follows, and the reminders sent so far."""
        assert row.case_id is not None
        request = outbox.request_of(session, row.case_id, row.step)
        if request is None:
            return context
        decision = session.get(Decision, request.decision_id) if request.decision_id else None
        asked = self.local_date(request.sent_at or request.created_at)
        requested_on = self.local_date(decision.decided_at) if decision else asked
        reminders = []
        for step in outbox.chases_of(session, request.id or 0):
            sent = session.get(OutboundMessage, step.outbox_id) if step.outbox_id else None
            reminded = sent is not None and sent.kind != ReplyKind.ESCALATION.value
            if step.state == ChaseState.QUEUED and reminded and sent and sent.sent_at:
                reminders.append(self.local_date(sent.sent_at))
        extra = tuple(decision.reasons or ()) if decision else ()
        return _replace(
            context,
            missing=context.missing + extra,
            requested_on=requested_on,
            needed_by=self.needed_by(requested_on),
            recipient=request.recipient,
            chases=tuple(reminders),
        )


def _replace(context: ReplyContext, **changes: Any) -> ReplyContext:
    return replace(context, **changes)


def _level(value: Any) -> int | None:
    return value if isinstance(value, int) and value in (1, 2, 3) else None


def _agency(values: dict[str, Any], session: Session, case_id: int) -> str:
    named = values.get("form.agency_name") or values.get("referrer.agency")
    if isinstance(named, str) and named.strip():
        return named.strip()
    messages = case_records.messages_of(session, case_id)
    first = messages[0].from_address if messages else None
    return first or "the referring agency"
