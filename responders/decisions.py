"""The Co-ordinator's decision on a case, and the reply it queues (domain.md §7).

``decide`` records the decision (apart from the proposal it may overrule), moves the case on,
stops the chases of any earlier request, and queues the one reply the outcome calls for:

    record        nothing more (the acknowledgement went at receipt)
    accept        the acceptance (Level 2 with the T4 date, Level 3 urgent with T5, or another
                  level than referred, saying why)
    reject        the rejection, with the reasons
    request_info  the request listing what is missing, and its chases
    redirect      the form to the other area's Co-ordinator

What the agency is told comes from the proposal and from ``reasons`` the Co-ordinator gives;
the Co-ordinator's ``note`` is never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from records import cases as case_records
from records import outbox
from records.events import record_event
from records.tables import Case, CaseState, Decision, EventKind, InboundMessage, Proposal
from responders.chasing import plan, schedule
from responders.compose import RecipientRefused, ReplyKind, check_recipient
from responders.settings import ReplySettings
from triage.calendar import WorkingCalendar
from triage.settings import TriageSettings

OUTCOMES = ("record", "accept", "reject", "request_info", "redirect")
_REPLY = {
    "accept": ReplyKind.ACCEPTANCE,
    "reject": ReplyKind.REJECTION,
    "request_info": ReplyKind.REQUEST_INFO,
    "redirect": ReplyKind.REDIRECT,
}


class DecisionRefused(Exception):
    """The decision cannot be recorded as given; the message says what to add or change."""


@dataclass(frozen=True, slots=True)
class Decided:
    decision: Decision
    reply: ReplyKind | None
    recipient: str | None
    not_sent: str = ""  # why no reply was queued when one was due


@dataclass(frozen=True, slots=True)
class DecisionPolicy:
    replies: ReplySettings
    triage: TriageSettings
    calendar: WorkingCalendar


@dataclass(frozen=True, slots=True)
class Choice:
    """What the Co-ordinator chose, from the command line or the console's form."""

    outcome: str
    level: int | None = None
    reasons: tuple[str, ...] = ()  # told to the agency
    note: str = ""  # the Co-ordinator's own: never sent
    redirect_to: str = ""  # a redirect: the other area's Co-ordinator's address


def draft(session: Session, case: Case, choice: Choice, *, by: str, now: datetime) -> Decision:
    """The decision as it would be recorded, checked but not saved (the console shows its
    reply from this before it is approved); raises DecisionRefused saying what to add or
    change."""
    assert case.id is not None
    if choice.outcome not in OUTCOMES:
        raise DecisionRefused(f"outcome must be one of {', '.join(OUTCOMES)}")
    if case.state is CaseState.CLOSED:
        raise DecisionRefused(f"{case.ref} is closed")
    proposal = case_records.current_proposal(session, case.id)
    values = case_records.merged_fields(session, case.id)
    referred = values.get("level.proposed")
    level, reasons = _checked(choice.outcome, choice.level, choice.reasons, proposal, referred)
    _refuse_repeat(session, case.id, choice.outcome, level)
    if choice.outcome == "redirect" and not choice.redirect_to:
        raise DecisionRefused("a redirect needs --to: the other area's Co-ordinator's address")
    return Decision(
        case_id=case.id,
        outcome=choice.outcome,
        level=level,
        note=choice.note[:2000],
        reasons=list(reasons),
        decided_by=by[:200],
        decided_at=now,
    )


def reply_kind(outcome: str) -> ReplyKind | None:
    """The reply a decision's outcome calls for (``record`` needs none)."""
    return _REPLY.get(outcome)


def decide(
    session: Session,
    case: Case,
    choice: Choice,
    *,
    by: str,
    now: datetime,
    policy: DecisionPolicy,
) -> Decided:
    """Draft the decision and record it (``mappa-intake decide``)."""
    decision = draft(session, case, choice, by=by, now=now)
    return record_decision(session, case, decision, choice.redirect_to, policy)


def record_decision(
    session: Session,
    case: Case,
    decision: Decision,
    redirect_to: str,
    policy: DecisionPolicy,
) -> Decided:
    """Keep a drafted decision (its ``reply_text`` set if the Co-ordinator edited the reply's
    words), move the case on, and queue its reply."""
    assert case.id is not None
    outcome, now = decision.outcome, decision.decided_at
    first = _first_message(session, case.id)
    recipient = reply_recipient(session, case, outcome, redirect_to)
    session.add(decision)
    session.flush()
    outbox.cancel_chases(session, case.id, "a new decision was made", now)
    case.state = CaseState.AWAITING_INFORMATION if outcome == "request_info" else CaseState.DECIDED
    case.updated_at = now
    case_records.refresh_queue_keys(session, case)
    record_event(
        session,
        EventKind.DECIDED,
        now,
        case_id=case.id,
        outcome=outcome,
        level=decision.level,
        edited=decision.reply_text is not None,
    )
    kind = reply_kind(outcome)
    if kind is None:
        return Decided(decision, None, None)
    try:
        address = check_recipient(recipient, policy.replies.sender)
    except RecipientRefused as err:
        return Decided(decision, kind, recipient, not_sent=str(err))
    step = _round(session, case.id, outcome)
    row = outbox.queue(
        session,
        key=outbox.outbox_key(case.ref, kind, step),
        kind=kind,
        recipient=address,
        now=now,
        message_id_domain=policy.replies.sender.message_id_domain,
        case_id=case.id,
        inbound_id=first.id if first else None,
        decision_id=decision.id,
        step=step,
    )
    if kind is ReplyKind.REQUEST_INFO:
        requested_on = now.astimezone(policy.replies.zone).date()
        schedule(
            session, row, plan(requested_on, policy.calendar, policy.triage, policy.replies.chase)
        )
    return Decided(decision, kind, address)


def _checked(
    outcome: str,
    level: int | None,
    reasons: tuple[str, ...],
    proposal: Proposal | None,
    referred: object,
) -> tuple[int | None, tuple[str, ...]]:
    proposed_outcome = proposal.outcome if proposal else None
    proposed_level = proposal.level if proposal else None
    proposed_reasons = tuple(proposal.reasons) if proposal else ()
    missing = tuple(proposal.missing) if proposal else ()
    if level is not None and level not in (1, 2, 3):
        raise DecisionRefused("--level must be 1, 2 or 3")
    if outcome == "accept":
        level = level if level is not None else proposed_level
        if level is None:
            raise DecisionRefused("an acceptance needs --level")
        if isinstance(referred, int) and level != referred and not reasons:
            agrees = proposed_outcome == "accept" and proposed_level == level
            if not agrees:
                raise DecisionRefused(
                    f"accepting at Level {level} when referred at Level {referred}:"
                    " say why with --reason"
                )
            reasons = proposed_reasons
    if outcome == "reject":
        if proposed_outcome == "reject":
            reasons = proposed_reasons + reasons
        if not reasons:
            raise DecisionRefused("a rejection needs its reasons: give --reason")
    if outcome == "request_info" and not (missing or reasons):
        raise DecisionRefused("nothing is missing: say what to ask for with --reason")
    return level, reasons


def _refuse_repeat(session: Session, case_id: int, outcome: str, level: int | None) -> None:
    last = case_records.latest_decision(session, case_id)
    if last is not None and last.outcome == outcome and last.level == level:
        raise DecisionRefused(
            f"already decided: {outcome}" + (f" at Level {level}" if level else "")
        )


def _round(session: Session, case_id: int, outcome: str) -> int:
    """Which decision of this outcome on the case this is (1, 2 ...): the outbox key's step,
    so a second request for information after a partial answer is a new message."""
    return len(
        session.exec(
            select(Decision.id).where(Decision.case_id == case_id, Decision.outcome == outcome)
        ).all()
    )


def reply_recipient(session: Session, case: Case, outcome: str, redirect_to: str) -> str:
    """Whom a decision's reply goes to: the agency that sent the case's first message, or
    for a redirect the other area's Co-ordinator ("" if the case has no sender)."""
    if outcome == "redirect":
        return redirect_to
    assert case.id is not None
    first = _first_message(session, case.id)
    return (first.from_address or "") if first else ""


def _first_message(session: Session, case_id: int) -> InboundMessage | None:
    """The agency's message the case began with: replies answer it, and go to its sender."""
    messages = case_records.messages_of(session, case_id)
    return messages[0] if messages else None
