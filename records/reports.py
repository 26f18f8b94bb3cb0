"""The reports of domain.md §8, computed from the event log alone.

A report covers the cases **received** in a period (a quarter, or the reporting year from
1 April to 31 March), whatever happened to them later: what they were (form type, category,
agency, as the case's newest triage saw them), the level proposed and decided, timeliness
against T1-T5 and T8, the information requests and chases, and the time from receipt to the
first decision. docs/reports.md defines every figure.

``load_events`` reads the rows; ``build_report`` is a pure function of them (the tests feed
it events they made by hand), so the console page and its CSV always agree.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from records.tables import Event, EventKind

if TYPE_CHECKING:
    from triage.calendar import WorkingCalendar

# The timescales §8 reports on: the agencies' (T1-T3), the meetings' (T4, T5), and the
# agencies' answers to our information requests (T8).
TIMESCALES = ("T1", "T2", "T3", "T4", "T5", "T8")
TIMELINESS = ("met", "missed", "open", "overdue")  # open: not yet due; overdue: due, not met
FORM_KINDS = ("notification", "referral")
T8_WORKING_DAYS = 5  # the default of domain.md §6; build_report takes the configured value

_PERIOD = re.compile(r"^(\d{4})-(\d{2})(?:-Q([1-4]))?$")
_KINDS = (
    EventKind.CASE_OPENED,
    EventKind.PROPOSED,
    EventKind.DECIDED,
    EventKind.REPLIED,
    EventKind.CHASED,
    EventKind.ESCALATED,
    EventKind.INFORMATION_RECEIVED,
)


class BadPeriod(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Period:
    """A reporting year ("2026-27": 1 April 2026 to 31 March 2027) or one of its quarters
    ("2026-27-Q3": October to December 2026). ``end`` is the first day after it."""

    name: str
    start: date
    end: date

    @property
    def label(self) -> str:
        last = self.end - timedelta(days=1)
        return f"{self.start:%-d %B %Y} to {last:%-d %B %Y}"

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


def reporting_year_of(day: date) -> int:
    """The year in which the reporting year holding ``day`` began (April to March)."""
    return day.year if day.month >= 4 else day.year - 1


def period(name: str) -> Period:
    found = _PERIOD.match(name)
    if found is None:
        raise BadPeriod(f"not a reporting period: {name!r} (e.g. 2026-27 or 2026-27-Q3)")
    year, follows, quarter = int(found[1]), int(found[2]), found[3]
    if follows != (year + 1) % 100:
        raise BadPeriod(f"{name!r}: a reporting year runs from April to the next March")
    if quarter is None:
        return Period(name, date(year, 4, 1), date(year + 1, 4, 1))
    first_month = 4 + 3 * (int(quarter) - 1)  # Q1 April, Q2 July, Q3 October, Q4 January
    start = date(year + (first_month - 1) // 12, (first_month - 1) % 12 + 1, 1)
    end_month = first_month + 3
    end = date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return Period(name, start, end)


def current_quarter(today: date) -> Period:
    year = reporting_year_of(today)
    quarter = ((today.month - 4) % 12) // 3 + 1
    return period(f"{year}-{(year + 1) % 100:02d}-Q{quarter}")


def periods_around(today: date, years: int = 3) -> list[Period]:
    """The periods a person may pick: this reporting year and the ones before, each with
    its quarters, newest first."""
    found = []
    for year in range(reporting_year_of(today), reporting_year_of(today) - years, -1):
        base = f"{year}-{(year + 1) % 100:02d}"
        quarters = (period(f"{base}-Q{q}") for q in (4, 3, 2, 1))
        found += [period(base), *(q for q in quarters if q.start <= today)]
    return found


@dataclass(frozen=True, slots=True)
class EventRow:
    """What a report reads of one event."""

    at: datetime
    kind: str
    case_id: int
    detail: dict[str, Any]


@dataclass
class Timeliness:
    met: int = 0
    missed: int = 0
    open: int = 0
    overdue: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def total(self) -> int:
        return self.met + self.missed + self.open + self.overdue


@dataclass
class Report:
    period: Period
    today: date
    received: Counter[str] = field(default_factory=Counter)  # notification / referral
    by_category: Counter[str] = field(default_factory=Counter)
    by_agency: Counter[str] = field(default_factory=Counter)
    level_proposed: Counter[str] = field(default_factory=Counter)  # "1", "2", "3", "none"
    level_decided: Counter[str] = field(default_factory=Counter)  # recorded or accepted
    outcomes: Counter[str] = field(default_factory=Counter)  # the first decision's outcome
    timeliness: dict[str, Timeliness] = field(
        default_factory=lambda: {t: Timeliness() for t in TIMESCALES}
    )
    information_requests: int = 0  # requests sent (replied events of kind request_info)
    chases: int = 0
    escalations: int = 0
    decided: int = 0  # cases with a decision
    median_hours_to_decision: float | None = None

    @property
    def cases(self) -> int:
        return sum(self.received.values())

    def rows(self) -> list[tuple[str, str, str]]:
        """(section, item, value): the CSV export, and what the tests compare."""
        found: list[tuple[str, str, str]] = [("cases", "received", str(self.cases))]
        for section, counts in (
            ("received", self.received),
            ("category", self.by_category),
            ("agency", self.by_agency),
            ("level_proposed", self.level_proposed),
            ("level_decided", self.level_decided),
            ("outcome", self.outcomes),
        ):
            found += [(section, item, str(n)) for item, n in sorted(counts.items())]
        for timescale, tally in self.timeliness.items():
            found += [(f"timeliness_{timescale}", s, str(getattr(tally, s))) for s in TIMELINESS]
        found += [
            ("requests", "information_requests", str(self.information_requests)),
            ("requests", "chases", str(self.chases)),
            ("requests", "escalations", str(self.escalations)),
            ("decisions", "decided", str(self.decided)),
            (
                "decisions",
                "median_hours_to_decision",
                ""
                if self.median_hours_to_decision is None
                else f"{self.median_hours_to_decision:.1f}",
            ),
        ]
        return found


def _form_kind(form_type: str | None) -> str:
    return "referral" if form_type and form_type.endswith("referral") else "notification"


def _received_at(opened: EventRow) -> datetime:
    """The case's receipt; the case's opening for events written before it was recorded."""
    text = opened.detail.get("received")
    return datetime.fromisoformat(text) if isinstance(text, str) else opened.at


def _level_decided(decision: dict[str, Any]) -> str | None:
    """The level a decision puts the case at: recorded only is Level 1 (domain.md §7),
    accepted is the level accepted; other outcomes put it at none."""
    if decision.get("outcome") == "record":
        return str(decision.get("level") or 1)
    if decision.get("outcome") == "accept" and decision.get("level"):
        return str(decision["level"])
    return None


def _deadline_outcome(status: str, due: date, today: date) -> str:
    if status in ("met", "missed"):
        return status
    return "open" if today <= due else "overdue"


def build_report(
    events: Iterable[EventRow],
    chosen: Period,
    *,
    today: date,
    calendar: WorkingCalendar,
    zone: ZoneInfo,
    t8_working_days: int = T8_WORKING_DAYS,
) -> Report:
    by_case: dict[int, list[EventRow]] = {}
    for event in sorted(events, key=lambda e: e.at):
        by_case.setdefault(event.case_id, []).append(event)
    report = Report(chosen, today)
    waits: list[float] = []
    for history in by_case.values():
        opened = next((e for e in history if e.kind == EventKind.CASE_OPENED), None)
        if opened is None:
            continue
        received_at = _received_at(opened)
        if not chosen.contains(received_at.astimezone(zone).date()):
            continue
        proposals = [e for e in history if e.kind == EventKind.PROPOSED]
        latest = proposals[-1].detail if proposals else {}
        report.received[_form_kind(latest.get("form_type") or opened.detail.get("form_type"))] += 1
        report.by_category[latest.get("category") or "unknown"] += 1
        report.by_agency[latest.get("agency") or "unknown"] += 1
        level = latest.get("level")
        report.level_proposed[str(level) if level else "none"] += 1
        for timescale, deadline in (latest.get("deadlines") or {}).items():
            if timescale in report.timeliness:
                due = date.fromisoformat(deadline["due"])
                report.timeliness[timescale].add(_deadline_outcome(deadline["status"], due, today))
        decisions = [e for e in history if e.kind == EventKind.DECIDED]
        if decisions:
            report.decided += 1
            report.outcomes[str(decisions[0].detail.get("outcome"))] += 1
            waits.append((decisions[0].at - received_at).total_seconds() / 3600)
            level_decided = _level_decided(decisions[-1].detail)
            if level_decided is not None:
                report.level_decided[level_decided] += 1
        _requests(report, history, today, calendar, zone, t8_working_days)
    if waits:
        report.median_hours_to_decision = statistics.median(waits)
    return report


def _requests(
    report: Report,
    history: Sequence[EventRow],
    today: date,
    calendar: WorkingCalendar,
    zone: ZoneInfo,
    t8_working_days: int,
) -> None:
    """Requests for information sent on the case, their chases, and T8 for each: met if
    the agency's answer came by the fifth working day after the request was sent."""
    answers = [e.at for e in history if e.kind == EventKind.INFORMATION_RECEIVED]
    for event in history:
        if event.kind == EventKind.CHASED:
            report.chases += 1
        elif event.kind == EventKind.ESCALATED:
            report.escalations += 1
        elif event.kind == EventKind.REPLIED and event.detail.get("reply") == "request_info":
            report.information_requests += 1
            due = calendar.add_working_days(event.at.astimezone(zone).date(), t8_working_days)
            answer = next((a for a in answers if a > event.at), None)
            if answer is None:
                outcome = "open" if today <= due else "overdue"
            else:
                outcome = "met" if answer.astimezone(zone).date() <= due else "missed"
            report.timeliness["T8"].add(outcome)


def load_events(session: Session, chosen: Period, zone: ZoneInfo) -> list[EventRow]:
    """Every event the report reads about the cases that may have been received in the
    period: their receipt is no later than their opening, so cases opened before the
    period began are never in it."""
    since = datetime.combine(chosen.start, time(), zone)
    opened = (
        select(Event.case_id)
        .where(Event.kind == EventKind.CASE_OPENED, col(Event.at) >= since)
        .scalar_subquery()
    )
    rows = session.exec(
        select(Event)
        .where(col(Event.case_id).in_(opened), col(Event.kind).in_(_KINDS))
        .order_by(col(Event.id))
    ).all()
    return [
        EventRow(e.at, e.kind, e.case_id, e.detail or {}) for e in rows if e.case_id is not None
    ]
