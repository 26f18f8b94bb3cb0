"""Working hours (pure): the office hours of Scottish working days between two instants.

"No mail for 16 working hours" must not fire over a weekend or a bank holiday, when no agency
writes: only the hours the office is open count, on the days ``WorkingCalendar`` says are
working days, in the Co-ordinator's zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from triage.calendar import WorkingCalendar

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class OfficeHours:
    opens: time
    closes: time

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """``"09:00-17:00"``; ValueError unless it is a span of one day, opening first."""
        found = _SPAN.match(text)
        if found is None:
            raise ValueError(f"{text!r} is not HH:MM-HH:MM")
        hour1, minute1, hour2, minute2 = (int(g) for g in found.groups())
        try:
            opens, closes = time(hour1, minute1), time(hour2, minute2)
        except ValueError as err:
            raise ValueError(f"{text!r}: {err}") from err
        if opens >= closes:
            raise ValueError(f"{text!r}: the office must open before it closes")
        return cls(opens, closes)


def working_hours_between(
    start: datetime,
    end: datetime,
    calendar: WorkingCalendar,
    hours: OfficeHours,
    zone: ZoneInfo,
) -> float:
    """Office hours of working days from ``start`` to ``end`` (aware datetimes), in hours;
    0 if ``end`` is not later."""
    if end <= start:
        return 0.0
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    total = timedelta()
    day = first
    while day <= last:
        if calendar.is_working_day(day):
            opens = datetime.combine(day, hours.opens, tzinfo=zone)
            closes = datetime.combine(day, hours.closes, tzinfo=zone)
            # In UTC: the difference of two times of one zone ignores a clock change.
            begin, finish = max(start, opens).astimezone(UTC), min(end, closes).astimezone(UTC)
            if finish > begin:
                total += finish - begin
        day += timedelta(days=1)
    return total.total_seconds() / 3600
