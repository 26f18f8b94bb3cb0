"""Scottish working days: Monday to Friday, less the Scottish bank holidays and local dates.

The bank holidays (with their weekend substitutes) come from the ``holidays`` package with
``subdiv="SCT"``; a council adds its own days (Easter Monday, a September Monday, festive
closures) through configuration. Any year works: the holiday table grows on demand.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import holidays

SATURDAY = 5


class WorkingCalendar:
    def __init__(self, extra_holidays: Iterable[date] = ()) -> None:
        self._bank = holidays.country_holidays("GB", subdiv="SCT")
        self._extra = frozenset(extra_holidays)

    def is_holiday(self, day: date) -> bool:
        """A public holiday of the area: a Scottish bank holiday or a configured local one."""
        return day in self._extra or day in self._bank

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < SATURDAY and not self.is_holiday(day)

    def add_working_days(self, start: date, days: int) -> date:
        """Day 0 is ``start`` (working or not); day 1 the next working day; returns day N."""
        step = 1 if days >= 0 else -1
        current, left = start, abs(days)
        while left:
            current += timedelta(days=step)
            if self.is_working_day(current):
                left -= 1
        return current

    def working_day_on_or_before(self, day: date) -> date:
        """``day`` if it is a working day, else the last working day before it."""
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def working_days_between(self, earlier: date, later: date) -> int:
        """Working days after ``earlier`` up to and including ``later`` (0 if not later)."""
        count, current = 0, earlier
        while current < later:
            current += timedelta(days=1)
            count += self.is_working_day(current)
        return count
