"""The release-day rule of domain.md §6, each case worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from triage.calendar import WorkingCalendar
from triage.release import adjust_release_date
from triage.settings import ReleaseRule

CALENDAR = WorkingCalendar()


@pytest.mark.parametrize(
    ("stated", "adjusted"),
    [
        # An ordinary week in 2027: Friday, Saturday and Sunday go to the Thursday ...
        (date(2027, 6, 11), date(2027, 6, 10)),
        (date(2027, 6, 12), date(2027, 6, 10)),
        (date(2027, 6, 13), date(2027, 6, 10)),
        # ... a Thursday to the Wednesday, and Monday to Wednesday stay.
        (date(2027, 6, 10), date(2027, 6, 9)),
        (date(2027, 6, 9), date(2027, 6, 9)),
        (date(2027, 6, 7), date(2027, 6, 7)),
        # A Monday holiday (first Monday in August 2026): back over the weekend to Thursday,
        # which the first rule reached and so keeps.
        (date(2026, 8, 3), date(2026, 7, 30)),
        # The Tuesday after a Monday holiday is an ordinary day.
        (date(2026, 5, 26), date(2026, 5, 26)),
        # St Andrew's Day 2026 is a Monday: to Thursday 26 November.
        (date(2026, 11, 30), date(2026, 11, 26)),
        # St Andrew's Day 2028 is a Thursday, and Wednesday 29 is its eve: Tuesday 28.
        (date(2028, 11, 30), date(2028, 11, 28)),
        # The eve of Good Friday 2026 (Thursday 2 April) and Good Friday itself: Wednesday 1.
        (date(2026, 4, 2), date(2026, 4, 1)),
        (date(2026, 4, 3), date(2026, 4, 1)),
        # Christmas Eve 2026 (Thursday, eve of a holiday): Wednesday 23.
        (date(2026, 12, 24), date(2026, 12, 23)),
        # New Year's Day 2027 (Friday): Thursday 31 December is its eve, so Wednesday 30.
        (date(2027, 1, 1), date(2026, 12, 30)),
        # Monday 4 January 2027 (2 January moved): Friday 1 is a holiday, Thursday 31 its eve.
        (date(2027, 1, 4), date(2026, 12, 30)),
    ],
)
def test_section_8_rule(stated: date, adjusted: date) -> None:
    assert adjust_release_date(stated, CALENDAR, ReleaseRule.S8_2023) == adjusted


def test_a_local_holiday_counts_as_a_public_holiday() -> None:
    easter_monday = date(2026, 4, 6)
    # Without it, Monday 6 April is an ordinary day; with it, back past Good Friday and its
    # eve to Wednesday 1 April.
    assert adjust_release_date(easter_monday, CALENDAR, ReleaseRule.S8_2023) == easter_monday
    with_local = WorkingCalendar([easter_monday])
    assert adjust_release_date(easter_monday, with_local, ReleaseRule.S8_2023) == date(2026, 4, 1)


@pytest.mark.parametrize(
    ("stated", "adjusted"),
    [
        (date(2027, 6, 12), date(2027, 6, 11)),  # Saturday to Friday
        (date(2027, 6, 11), date(2027, 6, 11)),  # Friday stays
        (date(2027, 6, 10), date(2027, 6, 10)),  # Thursday stays
        (date(2026, 8, 3), date(2026, 7, 31)),  # Monday holiday to Friday
        (date(2026, 12, 28), date(2026, 12, 24)),  # Boxing Day moved: back past Christmas
    ],
)
def test_earlier_rule_moves_only_weekends_and_holidays(stated: date, adjusted: date) -> None:
    assert adjust_release_date(stated, CALENDAR, ReleaseRule.PRE_2023) == adjusted
