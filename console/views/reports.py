"""The reports of domain.md §8 for a quarter or a reporting year (records/reports.py
computes them from the event log): tables, bar charts drawn on the server as SVG (no
script, no inline style: the CSP allows neither), and the same figures as CSV."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from starlette.responses import Response

from console.errors import PageNotFound
from console.services import ConsoleServices
from console.web import Call, Frame, frame, render
from records.audit import AuditAction, audit
from records.reports import (
    TIMELINESS,
    BadPeriod,
    Period,
    Report,
    build_report,
    current_quarter,
    load_events,
    period,
    periods_around,
)

BAR_WIDTH = 320  # the longest bar, in SVG units


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    width: int  # of BAR_WIDTH


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    bars: list[Bar]


@dataclass(frozen=True, slots=True)
class ReportPageContext:
    frame: Frame
    report: Report
    periods: list[Period]
    charts: list[Chart]
    timeliness_states: tuple[str, ...]
    median: str  # the median time from receipt to decision, in words


def _chart(title: str, counts: Counter[str], order: list[str] | None = None) -> Chart:
    labels = order if order is not None else sorted(counts)
    top = max(counts.values(), default=0)
    return Chart(
        title,
        [
            Bar(label, counts[label], round(BAR_WIDTH * counts[label] / top) if top else 0)
            for label in labels
        ],
    )


def _in_words(hours: float | None) -> str:
    if hours is None:
        return "no decision yet"
    days, left = divmod(round(hours), 24)
    return f"{days} day{'s' if days != 1 else ''} {left} hour{'s' if left != 1 else ''}"


def _report(services: ConsoleServices, call: Call, action: str) -> Report:
    viewer = call.user()
    today = services.today()
    try:
        chosen = period(call.query["period"]) if "period" in call.query else current_quarter(today)
    except BadPeriod as err:
        raise PageNotFound(str(err)) from err
    zone = services.clock().tzinfo
    assert isinstance(zone, ZoneInfo)  # the console's clock is the Co-ordinator's zone
    with services.db.session() as session:
        events = load_events(session, chosen, zone)
        audit(session, services.clock(), viewer.name, viewer.role, action, chosen.name)
    return build_report(
        events,
        chosen,
        today=today,
        calendar=services.calendar,
        zone=zone,
        t8_working_days=services.policy.triage.t8_working_days,
    )


def report_page(services: ConsoleServices, call: Call) -> Response:
    report = _report(services, call, AuditAction.VIEW_REPORT)
    levels = ["1", "2", "3", "none"]
    charts = [
        _chart("Cases received, by form", report.received, ["notification", "referral"]),
        _chart("By category", report.by_category),
        _chart("By agency", report.by_agency),
        _chart("Level proposed", report.level_proposed, levels),
        _chart("Level decided", report.level_decided, levels[:3]),
    ]
    context = ReportPageContext(
        frame(call, "reports"),
        report,
        periods_around(services.today()),
        charts,
        TIMELINESS,
        _in_words(report.median_hours_to_decision),
    )
    return render("reports.html", context)


def csv_cell(text: str) -> str:
    """A cell a spreadsheet will not run: an item named from a form (a category, an agency)
    that begins like a formula is given a leading apostrophe (OWASP CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def report_csv(services: ConsoleServices, call: Call) -> Response:
    report = _report(services, call, AuditAction.EXPORT_REPORT)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("period", "section", "item", "value"))
    writer.writerows(
        (report.period.name, section, csv_cell(item), value)
        for section, item, value in report.rows()
    )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="mappa-report-{report.period.name}.csv"'
        },
    )
