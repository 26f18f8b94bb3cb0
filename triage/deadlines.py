"""The statutory timescales T1-T9 (domain.md §6), counted in Scottish working days.

Counting: day 0 is the event, day 1 the next working day, the deadline is the end of day N, so
something done on the due date is in time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from triage.calendar import WorkingCalendar
from triage.facts import FormFacts
from triage.release import adjust_release_date
from triage.settings import TriageSettings


@dataclass(frozen=True, slots=True)
class Deadline:
    id: str
    start: date
    due: date
    status: str  # "met", "missed" or "open"
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "from": self.start.isoformat(),
            "due": self.due.isoformat(),
            "status": self.status,
            **self.extra,
        }


def _met(done: date, due: date) -> str:
    return "met" if done <= due else "missed"


def t1_due(disposal: date, calendar: WorkingCalendar, settings: TriageSettings) -> date:
    """Notification after a community sentence disposal."""
    return calendar.add_working_days(disposal, settings.t1_working_days)


def t2_due(notification: date, calendar: WorkingCalendar, settings: TriageSettings) -> date:
    """Referral after a notification proposing Level 2 or 3."""
    return calendar.add_working_days(notification, settings.t2_working_days)


def t3_due(adjusted_release: date, settings: TriageSettings) -> date:
    """SPS notification or referral: not less than 12 weeks before the (adjusted) release."""
    return adjusted_release - timedelta(weeks=settings.t3_weeks)


def t4_due(referral: date, calendar: WorkingCalendar, settings: TriageSettings) -> date:
    """Initial Level 2 meeting."""
    return calendar.add_working_days(referral, settings.t4_working_days)


def t5_due(referral: date, calendar: WorkingCalendar, settings: TriageSettings) -> date:
    """Initial Level 3 meeting."""
    return calendar.add_working_days(referral, settings.t5_working_days)


def t6_due(last_meeting: date, calendar: WorkingCalendar, settings: TriageSettings) -> date:
    """Next Level 2 review: at least every 12 weeks, so a review that would fall on a weekend
    or holiday is due on the working day before."""
    return calendar.working_day_on_or_before(last_meeting + timedelta(weeks=settings.t6_weeks))


def t7_due(last_meeting: date, calendar: WorkingCalendar, settings: TriageSettings) -> date:
    """Next Level 3 review: at least every 6 weeks (the working day before, as for T6)."""
    return calendar.working_day_on_or_before(last_meeting + timedelta(weeks=settings.t7_weeks))


def t8_due(request: date, calendar: WorkingCalendar, settings: TriageSettings) -> date:
    """Agencies' answers to a pre-meeting information request."""
    return calendar.add_working_days(request, settings.t8_working_days)


def t9_due(meeting: date, calendar: WorkingCalendar, settings: TriageSettings) -> date:
    """Minutes circulated after a meeting."""
    return calendar.add_working_days(meeting, settings.t9_working_days)


def deadlines_for(
    facts: FormFacts, received: date, calendar: WorkingCalendar, settings: TriageSettings
) -> list[Deadline]:
    """The deadlines `check` reports for one form (docs/triage.md), in id order."""
    found: list[Deadline] = []
    level = facts.level()
    disposal_type = facts.values.get("disposal.type")
    disposal = facts.date("disposal.date")
    if facts.is_notification and disposal_type == "community" and disposal is not None:
        due = t1_due(disposal, calendar, settings)
        found.append(Deadline("T1", disposal, due, _met(received, due)))
    if facts.is_notification and level in (2, 3):
        found.append(Deadline("T2", received, t2_due(received, calendar, settings), "open"))
    release = facts.date("disposal.release_date")
    if disposal_type == "custody" and release is not None:
        adjusted = adjust_release_date(release, calendar, settings.release_rule)
        due = t3_due(adjusted, settings)
        extra = {"release_date": release.isoformat(), "release_date_adjusted": adjusted.isoformat()}
        found.append(Deadline("T3", adjusted, due, _met(received, due), extra))
    if facts.is_referral and level == 2:
        found.append(Deadline("T4", received, t4_due(received, calendar, settings), "open"))
    if facts.is_referral and level == 3:
        found.append(Deadline("T5", received, t5_due(received, calendar, settings), "open"))
    return found
