"""Finding what a page's address names, or a 404."""

from __future__ import annotations

from sqlmodel import Session

from console.errors import PageNotFound
from records import cases as case_records
from records.tables import Case, Form


def find_case(session: Session, ref: str) -> Case:
    case = case_records.find_by_ref(session, ref)
    if case is None:
        raise PageNotFound(f"No case {ref[:30]}.")
    return case


def form_of(session: Session, case: Case, form_id: int) -> Form:
    form = session.get(Form, form_id)
    if form is None or form.case_id != case.id:
        raise PageNotFound("No such form on this case.")
    return form
