"""Deadlines that slip (pure): a T1-T5 deadline that was missed, or falls due within a few
working days, is flagged for the Co-ordinator. Nothing is sent to an agency about it: the
Co-ordinator decides what to do."""

from __future__ import annotations

from datetime import date

from triage.calendar import WorkingCalendar

WATCHED = ("T1", "T2", "T3", "T4", "T5")


def deadline_flag(
    timescale: str,
    due: date,
    status: str,
    today: date,
    calendar: WorkingCalendar,
    near_working_days: int,
) -> str | None:
    """ "missed", "near", or None."""
    if timescale not in WATCHED or status == "met":
        return None
    if status == "missed" or due < today:
        return "missed"
    if calendar.working_days_between(today, due) <= near_working_days:
        return "near"
    return None
