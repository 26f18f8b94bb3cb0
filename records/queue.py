"""The console's queue of cases: one indexed query, sorted by urgency.

Urgency (issue 6): a case with a missed T1-T5 deadline first, then one with a deadline near,
then the rest; within each, Level 3 before the others; then the weakest extracted field first
(the case most likely to need a person's eye); then the oldest. The sort keys are columns of
``case`` kept by ``records.cases.refresh_queue_keys``, so ten thousand cases cost no more than
a page of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from records.tables import Case, CaseState

# The Co-ordinator's work: cases waiting for a decision or for an agency's answer.
OPEN_STATES = (CaseState.AWAITING_DECISION, CaseState.AWAITING_INFORMATION)


@dataclass(frozen=True, slots=True)
class QueueFilter:
    state: str = ""  # "" : the open states; else one CaseState value, or "all"
    agency: str = ""
    category: str = ""
    form_type: str = ""


@dataclass(frozen=True, slots=True)
class QueueCounts:
    by_state: dict[str, int]
    missed: int  # open cases with a missed deadline
    near: int  # ... with one near
    level3: int  # open cases at Level 3


def urgency(next_due: date | None, today: date, near_limit: date) -> str:
    """ "missed", "near" or "": the rule ``_urgency`` sorts by, for one case."""
    if next_due is None or next_due > near_limit:
        return ""
    return "missed" if next_due < today else "near"


def _urgency(today: date, near_limit: date) -> Any:
    """0 missed, 1 near, 2 the rest (as ``urgency``), in SQL."""
    return sa.case(
        (col(Case.next_due) < today, 0),
        (col(Case.next_due) <= near_limit, 1),
        else_=2,
    )


def _filtered(query: Any, wanted: QueueFilter) -> Any:
    if wanted.state == "":
        query = query.where(col(Case.state).in_(OPEN_STATES))
    elif wanted.state != "all":
        query = query.where(Case.state == wanted.state)
    for column, value in (
        (Case.agency, wanted.agency),
        (Case.category, wanted.category),
        (Case.form_type, wanted.form_type),
    ):
        if value:
            query = query.where(column == value)
    return query


def queue_page(
    session: Session,
    wanted: QueueFilter,
    today: date,
    near_limit: date,
    offset: int,
    limit: int,
) -> tuple[Sequence[Case], int]:
    """One page of the queue, and how many cases the filter finds in all."""
    order = (
        _urgency(today, near_limit),
        sa.case((col(Case.level) == 3, 0), else_=1),
        sa.func.coalesce(col(Case.weakest_confidence), 1.0),
        col(Case.received_at),
        col(Case.id),
    )
    rows = session.exec(
        _filtered(select(Case), wanted).order_by(*order).offset(offset).limit(limit)
    ).all()
    total = session.exec(_filtered(select(sa.func.count()).select_from(Case), wanted)).one()
    return rows, int(total)


def queue_counts(session: Session, today: date, near_limit: date) -> QueueCounts:
    by_state = {
        str(state): int(n)
        for state, n in session.exec(select(Case.state, sa.func.count()).group_by(Case.state)).all()
    }
    open_cases = col(Case.state).in_(OPEN_STATES)
    urgency = _urgency(today, near_limit)

    def count(condition: Any) -> int:
        query = select(sa.func.count()).select_from(Case).where(open_cases, condition)
        return int(session.exec(query).one())

    return QueueCounts(
        by_state=by_state,
        missed=count(urgency == 0),
        near=count(urgency == 1),
        level3=count(col(Case.level) == 3),
    )


def filter_choices(session: Session) -> dict[str, list[str]]:
    """The values the queue's filters offer: those the cases have."""
    choices: dict[str, list[str]] = {}
    for name, column in (
        ("agency", Case.agency),
        ("category", Case.category),
        ("form_type", Case.form_type),
    ):
        values = session.exec(select(column).where(col(column).is_not(None)).distinct()).all()
        choices[name] = sorted(str(v) for v in values)
    return choices
