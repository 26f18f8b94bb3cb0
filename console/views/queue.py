"""The queue: open cases by urgency, with filters and counts (records/queue.py sorts)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from urllib.parse import urlencode

from starlette.responses import Response

from console.fields import WEAK_CONFIDENCE
from console.services import ConsoleServices
from console.web import Call, Frame, frame, page_number, render
from records.audit import AuditAction, audit
from records.queue import (
    QueueCounts,
    QueueFilter,
    filter_choices,
    queue_counts,
    queue_page,
    urgency,
)
from records.tables import Case, CaseState

PAGE_SIZE = 50  # a screenful and a scroll: the Co-ordinator works from the top


@dataclass(frozen=True, slots=True)
class QueueRow:
    ref: str
    state: str
    form_type: str
    category: str
    agency: str
    level: int | None
    received: datetime
    next_due: date | None
    next_due_timescale: str
    urgency: str  # "missed", "near" or ""
    weakest_confidence: float | None
    weak: bool  # below the confidence the case page marks as weak


@dataclass(frozen=True, slots=True)
class QueuePageContext:
    frame: Frame
    rows: list[QueueRow]
    counts: QueueCounts
    wanted: QueueFilter
    choices: dict[str, list[str]]
    states: list[str]
    filter_query: str  # the filters as a query string, for the page links
    total: int
    page: int
    pages: int


def _row(case: Case, today: date, near_limit: date) -> QueueRow:
    return QueueRow(
        ref=case.ref,
        state=str(case.state),
        form_type=case.form_type,
        category=case.category or "",
        agency=case.agency or "",
        level=case.level,
        received=case.received_at,
        next_due=case.next_due,
        next_due_timescale=case.next_due_timescale or "",
        urgency=urgency(case.next_due, today, near_limit),
        weakest_confidence=case.weakest_confidence,
        weak=case.weakest_confidence is not None and case.weakest_confidence < WEAK_CONFIDENCE,
    )


def queue(services: ConsoleServices, call: Call) -> Response:
    viewer = call.user()
    states = [s.value for s in CaseState]
    state = call.query.get("state", "")
    wanted = QueueFilter(
        state=state if state in (*states, "all") else "",
        agency=call.query.get("agency", "")[:20],
        category=call.query.get("category", "")[:40],
        form_type=call.query.get("form_type", "")[:20],
    )
    page = page_number(call)
    today, near_limit = services.today(), services.near_limit()
    with services.db.session() as session:
        cases, total = queue_page(
            session, wanted, today, near_limit, (page - 1) * PAGE_SIZE, PAGE_SIZE
        )
        counts = queue_counts(session, today, near_limit)
        choices = filter_choices(session)
        audit(session, services.clock(), viewer.name, viewer.role, AuditAction.VIEW_QUEUE)
    context = QueuePageContext(
        frame=frame(call, "queue"),
        rows=[_row(case, today, near_limit) for case in cases],
        counts=counts,
        wanted=wanted,
        choices=choices,
        states=states,
        filter_query=urlencode(asdict(wanted)),
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
    )
    return render("queue.html", context)
