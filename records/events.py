"""The append-only event log: one row per thing that happened, with its time.

``detail`` holds references, kinds and counts, never personal data: the log is read for the
reports of domain.md §8 and may be shown to an administrator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from records.tables import Event, EventKind


def record_event(
    session: Session,
    kind: EventKind,
    at: datetime,
    *,
    case_id: int | None = None,
    inbound_id: int | None = None,
    **detail: Any,
) -> None:
    session.add(Event(at=at, kind=kind, case_id=case_id, inbound_id=inbound_id, detail=detail))
