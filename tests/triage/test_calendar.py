"""The Scottish working-day calendar, against bank holidays worked out by hand for 2026-2028.

The table below was written from the rules of domain.md §6 and a diary, not from the
``holidays`` package, so the test fails if the package (or our use of it) disagrees.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from triage.calendar import WorkingCalendar

SCOTTISH_BANK_HOLIDAYS = {
    2026: [
        date(2026, 1, 1),  # Thursday
        date(2026, 1, 2),  # Friday
        date(2026, 4, 3),  # Good Friday (Easter Sunday 5 April)
        date(2026, 5, 4),  # first Monday in May
        date(2026, 5, 25),  # last Monday in May
        date(2026, 6, 15),  # a one-off bank holiday proclaimed for the 2026 FIFA World Cup
        date(2026, 8, 3),  # first Monday in August
        date(2026, 11, 30),  # St Andrew's Day, a Monday
        date(2026, 12, 25),  # Christmas Day, Friday
        date(2026, 12, 28),  # Boxing Day falls on Saturday: Monday instead
    ],
    2027: [
        date(2027, 1, 1),  # Friday
        date(2027, 1, 4),  # 2 January falls on Saturday: Monday instead
        date(2027, 3, 26),  # Good Friday (Easter Sunday 28 March)
        date(2027, 5, 3),
        date(2027, 5, 31),
        date(2027, 8, 2),
        date(2027, 11, 30),  # St Andrew's Day, a Tuesday
        date(2027, 12, 27),  # Christmas Day falls on Saturday: Monday instead
        date(2027, 12, 28),  # Boxing Day falls on Sunday: Tuesday instead
    ],
    2028: [
        date(2028, 1, 3),  # New Year's Day falls on Saturday: Monday instead
        date(2028, 1, 4),  # 2 January falls on Sunday: Tuesday instead
        date(2028, 4, 14),  # Good Friday (Easter Sunday 16 April)
        date(2028, 5, 1),
        date(2028, 5, 29),
        date(2028, 8, 7),
        date(2028, 11, 30),  # St Andrew's Day, a Thursday
        date(2028, 12, 25),  # Monday
        date(2028, 12, 26),  # Tuesday
    ],
}


@pytest.mark.parametrize("year", sorted(SCOTTISH_BANK_HOLIDAYS))
def test_weekday_holidays_are_exactly_the_scottish_bank_holidays(year: int) -> None:
    calendar = WorkingCalendar()
    day, found = date(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5 and not calendar.is_working_day(day):
            found.append(day)
        day += timedelta(days=1)
    assert found == SCOTTISH_BANK_HOLIDAYS[year]


def test_easter_monday_is_a_working_day_unless_the_council_adds_it() -> None:
    easter_monday = date(2026, 4, 6)
    assert WorkingCalendar().is_working_day(easter_monday)
    assert not WorkingCalendar([easter_monday]).is_working_day(easter_monday)


def test_weekends_are_not_working_days() -> None:
    calendar = WorkingCalendar()
    assert not calendar.is_working_day(date(2026, 11, 28))  # Saturday
    assert not calendar.is_working_day(date(2026, 11, 29))  # Sunday
    assert calendar.is_working_day(date(2026, 11, 27))  # Friday


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (date(2026, 11, 27), 1, date(2026, 12, 1)),  # Friday; Monday is St Andrew's Day
        (date(2026, 11, 28), 1, date(2026, 12, 1)),  # day 0 may itself be a weekend
        (date(2026, 12, 24), 1, date(2026, 12, 29)),  # Christmas Friday, Boxing Day Monday
        (date(2026, 12, 31), 1, date(2027, 1, 5)),  # 1 Jan Friday, 2 Jan moved to Monday
        (date(2026, 11, 23), 0, date(2026, 11, 23)),
    ],
)
def test_add_working_days(start: date, days: int, due: date) -> None:
    assert WorkingCalendar().add_working_days(start, days) == due


def test_working_days_between_counts_after_the_first_day_up_to_the_last() -> None:
    calendar = WorkingCalendar()
    # Wed 25 Nov 2026 -> Thu 3 Dec 2026: 26, 27, (30 holiday), 1, 2, 3
    assert calendar.working_days_between(date(2026, 11, 25), date(2026, 12, 3)) == 5
    assert calendar.working_days_between(date(2026, 12, 3), date(2026, 11, 25)) == 0


def test_working_day_on_or_before() -> None:
    calendar = WorkingCalendar()
    assert calendar.working_day_on_or_before(date(2027, 12, 28)) == date(2027, 12, 24)
    assert calendar.working_day_on_or_before(date(2027, 12, 24)) == date(2027, 12, 24)
