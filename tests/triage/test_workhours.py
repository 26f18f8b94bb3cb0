"""Office hours of Scottish working days between two instants: weekends, bank holidays, the
clock change and the edges of the day."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from triage.calendar import WorkingCalendar
from triage.workhours import OfficeHours, working_hours_between

ZONE = ZoneInfo("Europe/London")
HOURS = OfficeHours.parse("09:00-17:00")
CALENDAR = WorkingCalendar()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        ("2026-11-16T10:00", "2026-11-16T12:30", 2.5),
        ("2026-11-16T07:00", "2026-11-16T20:00", 8.0),
        ("2026-11-16T16:00", "2026-11-17T10:00", 2.0),
        ("2026-11-20T15:00", "2026-11-23T10:00", 3.0),
        ("2026-11-21T10:00", "2026-11-22T16:00", 0.0),
        ("2026-11-27T16:00", "2026-12-01T10:00", 2.0),
        ("2026-03-27T16:00", "2026-03-30T10:00", 2.0),
        ("2026-11-17T10:00", "2026-11-16T10:00", 0.0),
    ],
    ids=[
        "within a day",
        "a whole day, early to late",
        "overnight",
        "a weekend does not count",
        "a weekend alone",
        "St Andrew's Day (Monday 30 November 2026) does not count",
        "across the change to summer time",
        "end before start",
    ],
)
def test_working_hours_between(start: str, end: str, hours: float) -> None:
    assert working_hours_between(_at(start), _at(end), CALENDAR, HOURS, ZONE) == pytest.approx(
        hours
    )


def test_instants_in_other_zones_are_counted_in_local_time() -> None:
    start = datetime.fromisoformat("2026-07-01T08:00+00:00")  # 09:00 BST
    end = datetime.fromisoformat("2026-07-01T10:00+00:00")
    assert working_hours_between(start, end, CALENDAR, HOURS, ZONE) == pytest.approx(2.0)


def test_a_local_closure_does_not_count() -> None:
    closed = WorkingCalendar(extra_holidays=[_at("2026-11-17T00:00").date()])
    assert working_hours_between(
        _at("2026-11-16T16:00"), _at("2026-11-18T10:00"), closed, HOURS, ZONE
    ) == pytest.approx(2.0)


@pytest.mark.parametrize("text", ["9-5", "17:00-09:00", "09:00-09:00", "25:00-26:00", ""])
def test_office_hours_must_be_a_span_of_one_day(text: str) -> None:
    with pytest.raises(ValueError):
        OfficeHours.parse(text)
