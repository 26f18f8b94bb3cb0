"""Cases and what hangs on them: forms with their fields, triage results, deadlines.

A case reference is ``MAPPA-<year>-<number>``, numbered from 1 each year; the number is
taken from ``case_counter`` in the same transaction that opens the case, so references are
never skipped by a failed intake and never given twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from records.events import record_event
from records.tables import (
    Case,
    CaseCounter,
    CaseState,
    DeadlineRow,
    Decision,
    EventKind,
    FieldCorrection,
    Form,
    FormField,
    InboundMessage,
    OutboundMessage,
    Proposal,
)

if TYPE_CHECKING:  # the values records keeps; read by attribute, never imported at run time
    from parsers.model import ParsedForm
    from triage.assess import Assessment

REF_PREFIX = "MAPPA"
# The person's identifiers a case keeps in columns of its own: (field name, column).
IDENTIFIER_COLUMNS = (
    ("ids.pnc", "pnc"),
    ("ids.chs", "chs"),
    ("ids.cro", "cro"),
    ("ids.chi", "chi"),
    ("ids.sps", "sps_number"),
    ("ids.visor", "visor_ref"),
)


def next_ref(session: Session, year: int) -> str:
    counter = session.exec(
        select(CaseCounter).where(CaseCounter.year == year).with_for_update()
    ).first()
    if counter is None:
        counter = CaseCounter(year=year, last=0)
    counter.last += 1
    session.add(counter)
    session.flush()
    return f"{REF_PREFIX}-{year}-{counter.last:04d}"


def open_case(session: Session, form_type: str, received_at: datetime, now: datetime) -> Case:
    """A new case; its forms follow with ``add_form``, which fills its columns."""
    case = Case(
        ref=next_ref(session, received_at.year),
        state=CaseState.AWAITING_DECISION,
        form_type=form_type,
        received_at=received_at,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    record_event(
        session,
        EventKind.CASE_OPENED,
        now,
        case_id=case.id,
        form_type=form_type,
        received=received_at.isoformat(),  # the reports count a case in its receipt's period
    )
    return case


# Fields copied to columns of ``case``, for the queue's filters and finding a case again.
_COLUMNS = {"category": "category", "form.agency": "agency", **dict(IDENTIFIER_COLUMNS)}


def _set_column(case: Case, name: str, value: Any) -> None:
    column = _COLUMNS.get(name)
    if column is not None and isinstance(value, str) and value:
        setattr(case, column, value[:30])


def _update_columns(case: Case, form: ParsedForm) -> None:
    """Columns the queue sorts and searches on, from the newest form that has them."""
    for name, found in form.fields.items():
        _set_column(case, name, found.value)
    if form.form_type != "unknown":
        case.form_type = str(form.form_type)


def add_form(
    session: Session, case: Case, inbound_id: int, form: ParsedForm, now: datetime
) -> Form:
    assert case.id is not None
    row = Form(
        case_id=case.id,
        inbound_id=inbound_id,
        source=form.source[:400],
        form_type=str(form.form_type),
        warnings=list(form.warnings),
        attachments=list(form.attachments),
        created_at=now,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    if form.fields:
        # One multi-row INSERT: a form has 30-45 fields, and ORM objects would cost more.
        session.connection().execute(
            sa.insert(FormField),
            [
                {
                    "form_id": row.id,
                    "name": name,
                    "value": found.value,
                    "confidence": found.confidence,
                    "evidence": found.evidence[:300],
                }
                for name, found in form.fields.items()
            ],
        )
    _update_columns(case, form)
    case.updated_at = now
    session.add(case)
    record_event(
        session,
        EventKind.PARSED,
        now,
        case_id=case.id,
        inbound_id=inbound_id,
        form_type=str(form.form_type),
        fields=len(form.fields),
    )
    return row


def merged_fields(session: Session, case_id: int) -> dict[str, Any]:
    """The case's field values: each form's over the earlier ones' (a reply's answer
    replaces the gap it fills), and a person's correction over them all (an empty
    correction says the field is not there)."""
    rows = session.exec(
        select(FormField.name, FormField.value)
        .join(Form, col(Form.id) == FormField.form_id)
        .where(Form.case_id == case_id)
        .order_by(col(Form.id), col(FormField.id))
    ).all()
    values = {name: value for name, value in rows if not _empty(value)}
    for name, correction in corrections_of(session, case_id).items():
        if _empty(correction.value):
            values.pop(name, None)
        else:
            values[name] = correction.value
    return values


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def corrections_of(session: Session, case_id: int) -> dict[str, FieldCorrection]:
    """The correction in force of each corrected field (the newest)."""
    rows = session.exec(
        select(FieldCorrection)
        .where(FieldCorrection.case_id == case_id)
        .order_by(col(FieldCorrection.id))
    ).all()
    return {row.name: row for row in rows}


def add_correction(
    session: Session, case: Case, name: str, value: Any, reason: str, by: str, now: datetime
) -> FieldCorrection:
    """Keep a person's value for a field; the parser's stays as it was read. The caller
    re-runs triage, which refreshes the queue keys."""
    assert case.id is not None
    row = FieldCorrection(
        case_id=case.id,
        name=name[:60],
        value=value,
        reason=reason[:500],
        corrected_by=by[:200],
        corrected_at=now,
    )
    session.add(row)
    _set_column(case, name, value)
    session.add(case)
    session.flush()
    return row


def form_fields(session: Session, case_id: int) -> list[tuple[Form, FormField]]:
    """Every field every form of the case gave, as read, in arrival order."""
    rows = session.exec(
        select(Form, FormField)
        .join(FormField, col(FormField.form_id) == Form.id)
        .where(Form.case_id == case_id)
        .order_by(col(Form.id), col(FormField.id))
    ).all()
    return [(form, found) for form, found in rows]


def forms_of(session: Session, case_id: int) -> Sequence[Form]:
    return session.exec(select(Form).where(Form.case_id == case_id).order_by(col(Form.id))).all()


# Deadlines the queue sorts on: those the Co-ordinator's handling can still meet or miss
# (T6-T9 are reviews and meetings after the decision).
QUEUE_TIMESCALES = ("T1", "T2", "T3", "T4", "T5")


def refresh_queue_keys(session: Session, case: Case) -> None:
    """Set the case's queue sort keys from its current proposal, decision and fields."""
    assert case.id is not None
    proposal = current_proposal(session, case.id)
    decision = latest_decision(session, case.id)
    unmet = sorted(
        (d.due, d.timescale)
        for d in (deadlines_of(session, proposal.id) if proposal and proposal.id else ())
        if d.timescale in QUEUE_TIMESCALES and d.status != "met"
    )
    case.next_due, case.next_due_timescale = unmet[0] if unmet else (None, None)
    decided_level = decision.level if decision is not None else None
    case.level = (
        decided_level if decided_level is not None else (proposal.level if proposal else None)
    )
    corrected = corrections_of(session, case.id)
    confidences = [
        confidence
        for name, confidence in session.exec(
            select(FormField.name, FormField.confidence)
            .join(Form, col(Form.id) == FormField.form_id)
            .where(Form.case_id == case.id)
        ).all()
        if name not in corrected
    ]
    # A person's correction is certain; a field nobody corrected is as strong as the parser said.
    if corrected:
        confidences.append(1.0)
    case.weakest_confidence = min(confidences) if confidences else None
    session.add(case)


def case_attachments(session: Session, case_id: int) -> tuple[str, ...]:
    """Every document sent on the case so far, in arrival order, once each."""
    names: dict[str, None] = {}
    for attachments in session.exec(
        select(Form.attachments).where(Form.case_id == case_id).order_by(col(Form.id))
    ).all():
        names.update(dict.fromkeys(attachments or ()))
    return tuple(names)


def save_assessment(
    session: Session, case: Case, assessment: Assessment, now: datetime
) -> Proposal:
    """Keep one triage result as the case's current proposal, with its deadlines."""
    assert case.id is not None
    proposal = Proposal(
        case_id=case.id,
        complete=assessment.complete,
        missing=[m.name for m in assessment.missing],
        missing_reasons=[m.reason for m in assessment.missing],
        outcome=str(assessment.proposal.outcome),
        level=assessment.proposal.level,
        reasons=list(assessment.proposal.reasons),
        created_at=now,
    )
    session.add(proposal)
    session.flush()
    assert proposal.id is not None
    for deadline in assessment.deadlines:
        session.add(
            DeadlineRow(
                proposal_id=proposal.id,
                case_id=case.id,
                timescale=deadline.id,
                start=deadline.start,
                due=deadline.due,
                status=deadline.status,
            )
        )
    session.flush()
    refresh_queue_keys(session, case)
    record_event(
        session,
        EventKind.PROPOSED,
        now,
        case_id=case.id,
        outcome=proposal.outcome,
        level=proposal.level,
        complete=proposal.complete,
        missing=len(proposal.missing),
        # What the reports count the case under (records/reports.py), as triage saw it.
        form_type=case.form_type,
        category=case.category,
        agency=case.agency,
        deadlines={
            d.id: {"due": d.due.isoformat(), "status": d.status} for d in assessment.deadlines
        },
    )
    return proposal


def current_proposal(session: Session, case_id: int) -> Proposal | None:
    return session.exec(
        select(Proposal).where(Proposal.case_id == case_id).order_by(col(Proposal.id).desc())
    ).first()


def latest_decision(session: Session, case_id: int) -> Decision | None:
    """The Co-ordinator's newest decision on the case (an earlier one may be changed)."""
    return session.exec(
        select(Decision).where(Decision.case_id == case_id).order_by(col(Decision.id).desc())
    ).first()


def deadlines_of(session: Session, proposal_id: int) -> Sequence[DeadlineRow]:
    return session.exec(
        select(DeadlineRow)
        .where(DeadlineRow.proposal_id == proposal_id)
        .order_by(col(DeadlineRow.id))
    ).all()


def find_by_ref(session: Session, ref: str) -> Case | None:
    return session.exec(select(Case).where(Case.ref == ref.upper())).first()


def find_by_message_ids(session: Session, message_ids: Iterable[str]) -> Case | None:
    """The case one of these Message-IDs belongs to: one of ours, or an agency's earlier
    message on the case (a reply in the agency's own thread)."""
    wanted = [m for m in message_ids if m]
    if not wanted:
        return None
    ours = session.exec(
        select(Case)
        .join(OutboundMessage, col(OutboundMessage.case_id) == Case.id)
        .where(col(OutboundMessage.message_id).in_(wanted))
    ).first()
    if ours is not None:
        return ours
    return session.exec(
        select(Case)
        .join(Form, col(Form.case_id) == Case.id)
        .join(InboundMessage, col(InboundMessage.id) == Form.inbound_id)
        .where(col(InboundMessage.message_id).in_(wanted))
        .order_by(col(InboundMessage.id))
    ).first()


def messages_of(session: Session, case_id: int) -> list[InboundMessage]:
    """Every inbound message on the case, once each, in arrival order (the first is the
    agency's form the case began with)."""
    rows = session.exec(
        select(InboundMessage)
        .join(Form, col(Form.inbound_id) == InboundMessage.id)
        .where(Form.case_id == case_id)
        .order_by(col(InboundMessage.id))
    ).all()
    return list({row.id: row for row in rows}.values())


def message_ids_of(session: Session, case_id: int) -> list[str]:
    """The Message-IDs of every inbound message on the case, in arrival order."""
    return list(dict.fromkeys(m.message_id for m in messages_of(session, case_id) if m.message_id))


def cases_of_message(session: Session, inbound_id: int) -> list[str]:
    """The references of the cases a message was made into (none if it never was)."""
    rows = session.exec(
        select(Case.ref)
        .join(Form, col(Form.case_id) == Case.id)
        .where(Form.inbound_id == inbound_id)
        .order_by(col(Case.id))
    ).all()
    return list(dict.fromkeys(rows))


def count_by_state(session: Session) -> dict[str, int]:
    rows = session.exec(select(Case.state, sa.func.count()).group_by(Case.state)).all()
    return {str(state): int(n) for state, n in rows}
