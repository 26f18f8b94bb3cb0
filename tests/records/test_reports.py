"""The reports of domain.md §8 from hand-made events whose figures are known (build_report is
a pure function of the event log); the periods of the reporting year."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from records.reports import (
    BadPeriod,
    EventRow,
    build_report,
    current_quarter,
    period,
    periods_around,
)
from records.tables import EventKind
from triage.calendar import WorkingCalendar

LONDON = ZoneInfo("Europe/London")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def opened(case: int, received: str, form_type: str) -> EventRow:
    return EventRow(
        at(received),
        EventKind.CASE_OPENED,
        case,
        {"form_type": form_type, "received": at(received).isoformat()},
    )


def proposed(case: int, when: str, **detail: Any) -> EventRow:
    return EventRow(at(when), EventKind.PROPOSED, case, detail)


def event(case: int, when: str, kind: EventKind, **detail: Any) -> EventRow:
    return EventRow(at(when), kind, case, detail)


def deadline(due: str, status: str) -> dict[str, str]:
    return {"due": due, "status": status}


EVENTS = [
    # 1: a notification recorded at Level 1 a day later; T1 met.
    opened(1, "2026-10-05T09:00", "notification"),
    proposed(
        1,
        "2026-10-05T09:01",
        form_type="notification",
        category="CAT1",
        agency="police",
        level=1,
        deadlines={"T1": deadline("2026-10-06", "met")},
    ),
    event(1, "2026-10-06T09:00", EventKind.DECIDED, outcome="record", level=1),
    # 2: a referral proposed at 3, then (after an answer) at 2; information asked for and
    # answered within T8, then accepted at Level 2; T4 past due with no meeting recorded.
    opened(2, "2026-11-02T10:00", "referral"),
    proposed(2, "2026-11-02T10:01", form_type="referral", category="CAT2", agency="sps", level=3),
    event(2, "2026-11-03T10:00", EventKind.DECIDED, outcome="request_info", level=None),
    event(2, "2026-11-03T10:05", EventKind.REPLIED, reply="request_info", step=1),
    event(2, "2026-11-07T08:00", EventKind.INFORMATION_RECEIVED),
    proposed(
        2,
        "2026-11-07T08:01",
        form_type="referral",
        category="CAT2",
        agency="sps",
        level=2,
        deadlines={"T4": deadline("2026-11-30", "open")},
    ),
    event(2, "2026-11-12T10:00", EventKind.DECIDED, outcome="accept", level=2),
    event(2, "2026-11-12T10:01", EventKind.REPLIED, reply="acceptance", step=0),
    # 3: received at 00:30 on 1 October in Scotland (23:30 UTC the day before): in the quarter.
    opened(3, "2026-09-30T23:30", "rp_referral"),
    proposed(
        3,
        "2026-09-30T23:31",
        form_type="rp_referral",
        category="CAT3",
        agency="nhs",
        level=3,
        deadlines={"T5": deadline("2026-12-15", "open")},
    ),
    # 4: received at 23:30 on 30 September in Scotland: the quarter before, left out.
    opened(4, "2026-09-30T22:30", "notification"),
    proposed(4, "2026-10-01T09:00", form_type="notification", category="CAT1", agency="police"),
    event(4, "2026-10-02T09:00", EventKind.DECIDED, outcome="record", level=1),
    event(4, "2026-10-02T09:05", EventKind.REPLIED, reply="request_info", step=1),
    # 5: T1 missed; information asked for, chased, escalated, never answered (T8 overdue).
    opened(5, "2026-12-01T10:00", "notification"),
    proposed(
        5,
        "2026-12-01T10:01",
        form_type="notification",
        category="CAT1",
        agency="police",
        level=1,
        deadlines={"T1": deadline("2026-11-25", "missed")},
    ),
    event(5, "2026-12-01T12:00", EventKind.DECIDED, outcome="request_info", level=None),
    event(5, "2026-12-01T12:05", EventKind.REPLIED, reply="request_info", step=1),
    event(5, "2026-12-07T08:00", EventKind.CHASED, step=1),
    event(5, "2026-12-09T08:00", EventKind.ESCALATED, step=3),
    # 6: asked yesterday: T8 open.
    opened(6, "2026-12-09T09:00", "notification"),
    proposed(6, "2026-12-09T09:01", form_type="notification", category="CAT1", agency="jsw"),
    event(6, "2026-12-09T09:30", EventKind.DECIDED, outcome="request_info", level=None),
    event(6, "2026-12-09T09:35", EventKind.REPLIED, reply="request_info", step=1),
]


def test_a_quarter_counts_the_cases_received_in_it_and_what_became_of_them() -> None:
    report = build_report(
        reversed(EVENTS),  # the order they come in does not matter
        period("2026-27-Q3"),
        today=date(2026, 12, 10),
        calendar=WorkingCalendar(),
        zone=LONDON,
    )
    assert report.cases == 5
    assert dict(report.received) == {"notification": 3, "referral": 2}
    assert dict(report.by_category) == {"CAT1": 3, "CAT2": 1, "CAT3": 1}
    assert dict(report.by_agency) == {"police": 2, "sps": 1, "nhs": 1, "jsw": 1}
    assert dict(report.level_proposed) == {"1": 2, "2": 1, "3": 1, "none": 1}
    assert dict(report.level_decided) == {"1": 1, "2": 1}
    assert dict(report.outcomes) == {"record": 1, "request_info": 3}
    assert report.decided == 4
    timeliness = {t: (c.met, c.missed, c.open, c.overdue) for t, c in report.timeliness.items()}
    assert timeliness == {
        "T1": (1, 1, 0, 0),
        "T2": (0, 0, 0, 0),
        "T3": (0, 0, 0, 0),
        "T4": (0, 0, 0, 1),
        "T5": (0, 0, 1, 0),
        "T8": (1, 0, 1, 1),
    }
    assert (report.information_requests, report.chases, report.escalations) == (3, 1, 1)
    # Waits of 24, 24, 2 and 0.5 hours.
    assert report.median_hours_to_decision == 13.0
    rows = report.rows()
    assert ("cases", "received", "5") in rows
    assert ("timeliness_T8", "overdue", "1") in rows
    assert ("decisions", "median_hours_to_decision", "13.0") in rows


def test_the_reporting_year_holds_its_four_quarters() -> None:
    events = [e for e in EVENTS if e.case_id in (1, 4)]
    year = build_report(
        events, period("2026-27"), today=date(2027, 5, 1), calendar=WorkingCalendar(), zone=LONDON
    )
    assert year.cases == 2
    before = build_report(
        events, period("2025-26"), today=date(2027, 5, 1), calendar=WorkingCalendar(), zone=LONDON
    )
    assert before.cases == 0 and before.median_hours_to_decision is None


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("2026-27", date(2026, 4, 1), date(2027, 4, 1)),
        ("2026-27-Q1", date(2026, 4, 1), date(2026, 7, 1)),
        ("2026-27-Q2", date(2026, 7, 1), date(2026, 10, 1)),
        ("2026-27-Q3", date(2026, 10, 1), date(2027, 1, 1)),
        ("2026-27-Q4", date(2027, 1, 1), date(2027, 4, 1)),
        ("1999-00", date(1999, 4, 1), date(2000, 4, 1)),
    ],
)
def test_periods_run_from_april(name: str, start: date, end: date) -> None:
    assert (period(name).start, period(name).end) == (start, end)


@pytest.mark.parametrize("name", ["2026", "2026-28", "2026-27-Q5", "2026-27-q1", "x"])
def test_a_period_that_is_not_one_is_refused(name: str) -> None:
    with pytest.raises(BadPeriod):
        period(name)


def test_the_current_quarter_and_the_choices() -> None:
    assert current_quarter(date(2027, 3, 31)).name == "2026-27-Q4"
    assert current_quarter(date(2027, 4, 1)).name == "2027-28-Q1"
    names = [p.name for p in periods_around(date(2026, 11, 23), years=2)]
    assert names == [
        "2026-27",
        "2026-27-Q3",
        "2026-27-Q2",
        "2026-27-Q1",
        "2025-26",
        "2025-26-Q4",
        "2025-26-Q3",
        "2025-26-Q2",
        "2025-26-Q1",
    ]
