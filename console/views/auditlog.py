"""The audit log, for an administrator: newest first, filtered by user, action or target.
Reading it is itself audited. Nothing here (or anywhere) can change it: the database
refuses UPDATE and DELETE on the table (migration 0003)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlmodel import col, select
from starlette.responses import Response

from console.services import ConsoleServices
from console.web import Call, Frame, frame, page_number, render
from records.audit import AuditAction, audit
from records.tables import AuditEntry

PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class AuditFilter:
    user: str = ""
    action: str = ""
    target: str = ""


@dataclass(frozen=True, slots=True)
class AuditRow:
    at: datetime
    user: str
    role: str
    action: str
    target: str
    detail: str


@dataclass(frozen=True, slots=True)
class AuditPageContext:
    frame: Frame
    rows: list[AuditRow]
    wanted: AuditFilter
    actions: list[str]
    filter_query: str
    total: int
    page: int
    pages: int


def _detail(detail: dict[str, object] | None) -> str:
    return "; ".join(f"{key}: {value}" for key, value in sorted((detail or {}).items()))


def audit_page(services: ConsoleServices, call: Call) -> Response:
    viewer = call.user()
    wanted = AuditFilter(
        user=call.query.get("user", "").strip()[:100],
        action=call.query.get("action", "").strip()[:40],
        target=call.query.get("target", "").strip()[:100],
    )
    page = page_number(call)
    conditions = [
        column == value
        for column, value in (
            (AuditEntry.user_name, wanted.user),
            (AuditEntry.action, wanted.action),
            (AuditEntry.target, wanted.target),
        )
        if value
    ]
    with services.db.session() as session:
        total = session.exec(
            select(sa.func.count()).select_from(AuditEntry).where(*conditions)
        ).one()
        entries = session.exec(
            select(AuditEntry)
            .where(*conditions)
            .order_by(col(AuditEntry.id).desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        ).all()
        actions = list(
            session.exec(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).all()
        )
        audit(
            session,
            services.clock(),
            viewer.name,
            viewer.role,
            AuditAction.VIEW_AUDIT,
            **{k: v for k, v in asdict(wanted).items() if v},
        )
    context = AuditPageContext(
        frame=frame(call, "audit"),
        rows=[
            AuditRow(e.at, e.user_name, e.role, e.action, e.target, _detail(e.detail))
            for e in entries
        ],
        wanted=wanted,
        actions=actions,
        filter_query=urlencode(asdict(wanted)),
        total=int(total),
        page=page,
        pages=max(1, -(-int(total) // PAGE_SIZE)),
    )
    return render("audit.html", context)
