"""The case page: the extracted fields beside the form, the checklist, the deadlines, the
proposal and the thread; the forms to correct a field and to decide (views/deciding.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select
from starlette.responses import Response

from console import fields as field_words
from console.documents import DocumentView
from console.services import ConsoleServices
from console.views.documents import document_view, part_name
from console.views.finding import find_case, form_of
from console.web import Call, Frame, frame, render
from records import cases as case_records
from records.audit import AuditAction, audit
from records.tables import Case, Decision, OutboundMessage
from records.views import alerts_of, replies_of
from responders.decisions import OUTCOMES
from responders.wording import MISSING_WORDS, form_name

OUTCOME_WORDS = {
    "record": "Record only (Level 1)",
    "accept": "Accept",
    "reject": "Not accepted",
    "request_info": "Ask for more information",
    "redirect": "Redirect to another area",
}


@dataclass(frozen=True, slots=True)
class CaseHeader:
    ref: str
    state: str
    form_name: str
    category: str
    agency: str
    level: int | None
    received: datetime


@dataclass(frozen=True, slots=True)
class FieldRow:
    name: str
    label: str
    value: str  # in force: the correction's if there is one
    typed: str  # what the correction box starts from
    confidence: float
    evidence: str
    source: str
    weak: bool
    parsed_value: str  # the parser's, when a correction replaced it
    corrected_by: str
    correction_reason: str


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    label: str
    present: bool
    reason: str


@dataclass(frozen=True, slots=True)
class DeadlineView:
    timescale: str
    start: date
    due: date
    status: str
    flag: str


@dataclass(frozen=True, slots=True)
class ProposalView:
    outcome: str
    outcome_words: str
    level: int | None
    reasons: list[str]
    complete: bool


@dataclass(frozen=True, slots=True)
class DecisionView:
    outcome_words: str
    level: int | None
    reasons: list[str]
    note: str
    by: str
    at: datetime
    edited: bool


@dataclass(frozen=True, slots=True)
class ThreadItem:
    at: datetime
    direction: str  # "in" or "out"
    party: str  # the sender (in) or recipient (out)
    what: str  # "form", "answer", or the reply's kind
    state: str  # an outbound message's state; "" for one that came in
    message_id: str


@dataclass(frozen=True, slots=True)
class DocumentLink:
    form_id: int
    name: str
    shown: bool  # the one drawn beside the fields


@dataclass(frozen=True, slots=True)
class CasePageContext:
    frame: Frame
    case: CaseHeader
    fields: list[FieldRow]
    checklist: list[ChecklistItem]
    deadlines: list[DeadlineView]
    proposal: ProposalView | None
    decisions: list[DecisionView]
    thread: list[ThreadItem]
    documents: list[DocumentLink]
    document: DocumentView  # the form drawn beside the fields
    document_form_id: int
    alerts: list[str]
    outcomes: list[tuple[str, str]]
    field_names: list[tuple[str, str]]  # every field a correction may set: (name, label)
    error: str  # why the last decision or correction was refused


def case_page(services: ConsoleServices, call: Call) -> Response:
    viewer = call.user()
    with services.db.session() as session:
        case = find_case(session, call.path_params["ref"])
        shown = call.query.get("form", "")
        form_id = int(shown) if shown.isdigit() and len(shown) < 10 else None
        context = case_context(services, session, case, frame(call, "queue"), form_id=form_id)
        audit(session, services.clock(), viewer.name, viewer.role, AuditAction.VIEW_CASE, case.ref)
    return render("case.html", context)


def case_context(
    services: ConsoleServices,
    session: Session,
    case: Case,
    page_frame: Frame,
    error: str = "",
    form_id: int | None = None,
) -> CasePageContext:
    """``form_id``: the form to draw beside the fields (default: the case's first)."""
    assert case.id is not None
    forms = case_records.forms_of(session, case.id)
    drawn = (
        form_of(session, case, form_id) if form_id is not None else (forms[0] if forms else None)
    )
    proposal = case_records.current_proposal(session, case.id)
    deadlines = case_records.deadlines_of(session, proposal.id) if proposal and proposal.id else []
    values = case_records.merged_fields(session, case.id)
    replies = replies_of(session, case.id)  # the thread's and the alerts': read once
    return CasePageContext(
        frame=page_frame,
        case=CaseHeader(
            ref=case.ref,
            state=str(case.state),
            form_name=form_name(case.form_type),
            category=case.category or "",
            agency=case.agency or "",
            level=case.level,
            received=case.received_at,
        ),
        fields=_fields(session, case.id),
        checklist=_checklist(
            proposal.missing if proposal else [],
            (proposal.missing_reasons or []) if proposal else [],
            values,
        ),
        deadlines=[
            DeadlineView(
                d.timescale,
                d.start,
                d.due,
                d.status,
                services.flag(d.timescale, d.due, d.status) or "",
            )
            for d in deadlines
        ],
        proposal=(
            ProposalView(
                proposal.outcome,
                OUTCOME_WORDS.get(proposal.outcome, proposal.outcome),
                proposal.level,
                list(proposal.reasons),
                proposal.complete,
            )
            if proposal
            else None
        ),
        decisions=_decisions(session, case.id),
        thread=_thread(session, case.id, replies),
        documents=[
            DocumentLink(form.id or 0, part_name(form) or "the e-mail's text", form is drawn)
            for form in forms
        ],
        document=document_view(services, session, drawn) if drawn else DocumentView("none"),
        document_form_id=(drawn.id or 0) if drawn else 0,
        alerts=alerts_of(session, replies),
        outcomes=[(o, OUTCOME_WORDS[o]) for o in OUTCOMES],
        field_names=sorted(field_words.LABELS.items(), key=lambda item: item[1]),
        error=error,
    )


def _fields(session: Session, case_id: int) -> list[FieldRow]:
    """One row per field: the newest form's value, under a person's correction if any."""
    newest = {
        found.name: (form, found) for form, found in case_records.form_fields(session, case_id)
    }
    corrections = case_records.corrections_of(session, case_id)
    rows = []
    for name in sorted({*newest, *corrections}, key=_field_order):
        form, found = newest.get(name, (None, None))
        correction = corrections.get(name)
        parsed = found.value if found else None
        value = correction.value if correction else parsed
        confidence = 1.0 if correction else (found.confidence if found else 0.0)
        rows.append(
            FieldRow(
                name=name,
                label=field_words.label(name),
                value=field_words.shown(value),
                typed=field_words.as_typed(value),
                confidence=confidence,
                evidence=found.evidence if found else "",
                source=(part_name(form) or "the e-mail's text") if form else "",
                weak=confidence < field_words.WEAK_CONFIDENCE,
                parsed_value=field_words.shown(parsed) if correction else "",
                corrected_by=correction.corrected_by if correction else "",
                correction_reason=correction.reason if correction else "",
            )
        )
    return rows


_ORDER = {name: index for index, name in enumerate(field_words.LABELS)}


def _field_order(name: str) -> tuple[int, str]:
    return _ORDER.get(name, len(_ORDER)), name


def _checklist(
    missing: list[str], reasons: list[str], values: dict[str, object]
) -> list[ChecklistItem]:
    """What triage found missing, then each requirement the case meets."""
    reasons = reasons + [""] * (len(missing) - len(reasons))
    items = [
        ChecklistItem(
            field_words.label(name)
            if name in field_words.LABELS
            else MISSING_WORDS.get(name, name),
            False,
            reason,
        )
        for name, reason in zip(missing, reasons, strict=False)
    ]
    for name in MISSING_WORDS:
        if name not in missing and name in values:
            items.append(ChecklistItem(field_words.label(name), True, ""))
    return items


def _decisions(session: Session, case_id: int) -> list[DecisionView]:
    rows = session.exec(
        select(Decision).where(Decision.case_id == case_id).order_by(col(Decision.id).desc())
    ).all()
    return [
        DecisionView(
            OUTCOME_WORDS.get(d.outcome, d.outcome),
            d.level,
            list(d.reasons or []),
            d.note,
            d.decided_by,
            d.decided_at,
            d.reply_text is not None,
        )
        for d in rows
    ]


def _thread(session: Session, case_id: int, replies: Sequence[OutboundMessage]) -> list[ThreadItem]:
    items = [
        ThreadItem(
            at=m.delivered_at or m.received_at,
            direction="in",
            party=m.from_address or "",
            what="form" if index == 0 else "further information",
            state="",
            message_id=m.message_id or "",
        )
        for index, m in enumerate(case_records.messages_of(session, case_id))
    ]
    for reply in replies:
        items.append(
            ThreadItem(
                at=reply.sent_at or reply.created_at,
                direction="out",
                party=reply.recipient,
                what=reply.kind.replace("_", " "),
                state=reply.state,
                message_id=reply.message_id,
            )
        )
    return sorted(items, key=lambda item: item.at)
