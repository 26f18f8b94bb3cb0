"""The release-day rule: a stated release date brought forward (domain.md §6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from triage.calendar import WorkingCalendar
from triage.settings import ReleaseRule

THURSDAY, FRIDAY, SATURDAY, SUNDAY = 3, 4, 5, 6
_DAY = timedelta(days=1)


def _excepted(day: date, calendar: WorkingCalendar) -> bool:
    """s.8 (2023): Friday, Saturday, Sunday, a public holiday, or the day before one."""
    return (
        day.weekday() in (FRIDAY, SATURDAY, SUNDAY)
        or calendar.is_holiday(day)
        or calendar.is_holiday(day + _DAY)
    )


def _back_to(day: date, ok: Callable[[date], bool]) -> date:
    """The last day before ``day`` for which ``ok`` holds."""
    current = day - _DAY
    while not ok(current):
        current -= _DAY
    return current


def adjust_release_date(stated: date, calendar: WorkingCalendar, rule: ReleaseRule) -> date:
    if rule is ReleaseRule.PRE_2023:

        def old_ok(day: date) -> bool:
            return day.weekday() < SATURDAY and not calendar.is_holiday(day)

        return stated if old_ok(stated) else _back_to(stated, old_ok)
    if _excepted(stated, calendar):
        # To the last preceding day that is not excepted; a Thursday reached so stays.
        return _back_to(stated, lambda d: not _excepted(d, calendar))
    if stated.weekday() == THURSDAY:
        return _back_to(stated, lambda d: not _excepted(d, calendar) and d.weekday() != THURSDAY)
    return stated
