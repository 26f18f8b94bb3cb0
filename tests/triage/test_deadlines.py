"""T1-T9 across the Scottish holidays of 2026-2028, each due date counted by hand.

Counting (domain.md §6): day 0 is the event, day 1 the next working day, due at the end of day
N. The comment on each case is the hand count, so a reader can check it against a diary.
"""

from __future__ import annotations

from datetime import date

import pytest

from triage.calendar import WorkingCalendar
from triage.deadlines import (
    deadlines_for,
    t1_due,
    t2_due,
    t3_due,
    t4_due,
    t5_due,
    t6_due,
    t7_due,
    t8_due,
    t9_due,
)
from triage.facts import FormFacts
from triage.release import adjust_release_date
from triage.settings import ReleaseRule, TriageSettings

SETTINGS = TriageSettings()
CALENDAR = WorkingCalendar()
EASTER_MONDAY_2026 = date(2026, 4, 6)


@pytest.mark.parametrize(
    ("disposal", "due"),
    [
        # Wed 23 Dec 2026: Thu 24 (1), Fri 25 Christmas, Mon 28 Boxing Day moved, Tue 29 (2),
        # Wed 30 (3)
        (date(2026, 12, 23), date(2026, 12, 30)),
        # Thu 31 Dec 2026: Fri 1 Jan, Mon 4 Jan (2 Jan moved), Tue 5 (1), Wed 6 (2), Thu 7 (3)
        (date(2026, 12, 31), date(2027, 1, 7)),
        # Thu 26 Nov 2026: Fri 27 (1), Mon 30 St Andrew's Day, Tue 1 Dec (2), Wed 2 (3)
        (date(2026, 11, 26), date(2026, 12, 2)),
    ],
)
def test_t1_notification_three_working_days_after_a_community_disposal(
    disposal: date, due: date
) -> None:
    assert t1_due(disposal, CALENDAR, SETTINGS) == due


@pytest.mark.parametrize(
    ("notification", "extra", "due"),
    [
        # Wed 1 Apr 2026: Thu 2 (1), Good Friday 3, Mon 6 (2), Tue 7 (3), Wed 8 (4), Thu 9 (5)
        (date(2026, 4, 1), (), date(2026, 4, 9)),
        # The same with Easter Monday added by the council: Tue 7 (2) ... Fri 10 (5)
        (date(2026, 4, 1), (EASTER_MONDAY_2026,), date(2026, 4, 10)),
        # Tue 22 Dec 2026: Wed 23 (1), Thu 24 (2), Tue 29 (3), Wed 30 (4), Thu 31 (5)
        (date(2026, 12, 22), (), date(2026, 12, 31)),
    ],
)
def test_t2_referral_five_working_days_after_the_notification(
    notification: date, extra: tuple[date, ...], due: date
) -> None:
    assert t2_due(notification, WorkingCalendar(extra), SETTINGS) == due


@pytest.mark.parametrize(
    ("stated", "adjusted", "due"),
    [
        # Good Friday 2027 (26 Mar): excepted; Thu 25 is the eve of a holiday, so Wed 24.
        # 24 Mar 2027 - 84 days = Wed 30 Dec 2026.
        (date(2027, 3, 26), date(2027, 3, 24), date(2026, 12, 30)),
        # Tue 4 Jan 2028 (2 Jan moved): Mon 3 holiday, weekend, Fri 31 Dec excepted, so
        # Thu 30 Dec 2027, which the first rule reached and so keeps. -84 days = Thu 7 Oct 2027.
        (date(2028, 1, 4), date(2027, 12, 30), date(2027, 10, 7)),
        # Mon 7 Aug 2028 (August holiday): back to Thu 3 Aug; -84 days = Thu 11 May 2028.
        (date(2028, 8, 7), date(2028, 8, 3), date(2028, 5, 11)),
    ],
)
def test_t3_twelve_weeks_before_the_adjusted_release(
    stated: date, adjusted: date, due: date
) -> None:
    assert adjust_release_date(stated, CALENDAR, ReleaseRule.S8_2023) == adjusted
    assert t3_due(adjusted, SETTINGS) == due


def test_t4_initial_level_2_meeting_twenty_working_days_across_may_day() -> None:
    # Mon 20 Apr 2026: 21-24 Apr (1-4), 27-30 Apr (5-8), Fri 1 May (9), Mon 4 May holiday,
    # 5-8 May (10-13), 11-15 May (14-18), Mon 18 (19), Tue 19 May (20)
    assert t4_due(date(2026, 4, 20), CALENDAR, SETTINGS) == date(2026, 5, 19)


def test_t4_across_christmas_and_new_year_2027() -> None:
    # Mon 13 Dec 2027: 14-17 Dec (1-4), 20-24 Dec (5-9), 27-28 holidays, 29-31 Dec (10-12),
    # 3-4 Jan 2028 holidays, 5-7 Jan (13-15), 10-14 Jan (16-20)
    assert t4_due(date(2027, 12, 13), CALENDAR, SETTINGS) == date(2028, 1, 14)


@pytest.mark.parametrize(
    ("referral", "due"),
    [
        # Thu 27 May 2027: Fri 28 (1), Mon 31 holiday, Tue 1 Jun (2) ... Fri 4 Jun (5)
        (date(2027, 5, 27), date(2027, 6, 4)),
        # Fri 30 Apr 2027: Mon 3 May holiday, Tue 4 (1) ... Fri 7 (4), Mon 10 (5)
        (date(2027, 4, 30), date(2027, 5, 10)),
        # Fri 28 Jul 2028: Mon 31 Jul (1), Tue 1 (2) ... Fri 4 (5): the August Monday comes after
        (date(2028, 7, 28), date(2028, 8, 4)),
        # Mon 31 Jul 2028: Tue 1 (1) ... Fri 4 (4), Mon 7 August holiday, Tue 8 (5)
        (date(2028, 7, 31), date(2028, 8, 8)),
    ],
)
def test_t5_initial_level_3_meeting_five_working_days(referral: date, due: date) -> None:
    assert t5_due(referral, CALENDAR, SETTINGS) == due


@pytest.mark.parametrize(
    ("meeting", "due"),
    [
        # Mon 7 Sep 2026 + 12 weeks = Mon 30 Nov, St Andrew's Day: held by Fri 27 Nov
        (date(2026, 9, 7), date(2026, 11, 27)),
        # Tue 3 Oct 2028 + 12 weeks = Tue 26 Dec 2028, Boxing Day: Fri 22 Dec
        (date(2028, 10, 3), date(2028, 12, 22)),
        # Wed 2 Jun 2027 + 12 weeks = Wed 25 Aug 2027, a working day
        (date(2027, 6, 2), date(2027, 8, 25)),
    ],
)
def test_t6_level_2_review_at_least_every_twelve_weeks(meeting: date, due: date) -> None:
    assert t6_due(meeting, CALENDAR, SETTINGS) == due


@pytest.mark.parametrize(
    ("meeting", "due"),
    [
        # Mon 15 Nov 2027 + 6 weeks = Mon 27 Dec 2027 (Christmas moved): Fri 24 Dec
        (date(2027, 11, 15), date(2027, 12, 24)),
        # Fri 3 Mar 2028 + 6 weeks = Good Friday 14 Apr 2028: Thu 13 Apr
        (date(2028, 3, 3), date(2028, 4, 13)),
        # Mon 20 Mar 2028 + 6 weeks = Mon 1 May 2028, May Day: Fri 28 Apr
        (date(2028, 3, 20), date(2028, 4, 28)),
    ],
)
def test_t7_level_3_review_at_least_every_six_weeks(meeting: date, due: date) -> None:
    assert t7_due(meeting, CALENDAR, SETTINGS) == due


@pytest.mark.parametrize(
    ("asked", "due"),
    [
        # Tue 28 Nov 2028: Wed 29 (1), Thu 30 St Andrew's, Fri 1 Dec (2), Mon 4 (3), Tue 5 (4),
        # Wed 6 (5)
        (date(2028, 11, 28), date(2028, 12, 6)),
        # Wed 25 Nov 2026: Thu 26 (1), Fri 27 (2), Mon 30 holiday, Tue 1 (3), Wed 2 (4), Thu 3 (5)
        (date(2026, 11, 25), date(2026, 12, 3)),
        # Tue 23 Mar 2027: Wed 24 (1), Thu 25 (2), Good Friday 26, Mon 29 (3), Tue 30 (4),
        # Wed 31 (5): Easter Monday is not a Scottish bank holiday
        (date(2027, 3, 23), date(2027, 3, 31)),
    ],
)
def test_t8_answers_to_an_information_request(asked: date, due: date) -> None:
    assert t8_due(asked, CALENDAR, SETTINGS) == due


@pytest.mark.parametrize(
    ("meeting", "due"),
    [
        # Thu 21 Dec 2028: Fri 22 (1), 25-26 holidays, Wed 27 (2), Thu 28 (3), Fri 29 (4),
        # Mon 1 and Tue 2 Jan 2029 holidays, Wed 3 Jan 2029 (5)
        (date(2028, 12, 21), date(2029, 1, 3)),
        # Thu 3 Aug 2028: Fri 4 (1), Mon 7 August holiday, Tue 8 (2) ... Fri 11 (5)
        (date(2028, 8, 3), date(2028, 8, 11)),
    ],
)
def test_t9_minutes_five_working_days_after_the_meeting(meeting: date, due: date) -> None:
    assert t9_due(meeting, CALENDAR, SETTINGS) == due


def test_a_configured_timescale_changes_the_count() -> None:
    # A council that allows 10 working days for referrals after notification.
    settings = TriageSettings(t2_working_days=10)
    # Wed 25 Nov 2026: 26, 27, (30), 1, 2, 3, 4, 7, 8, 9, 10 Dec
    assert t2_due(date(2026, 11, 25), CALENDAR, settings) == date(2026, 12, 10)


# --- which deadlines `check` reports for a form ---------------------------------------------


def _facts(form_type: str, **values: object) -> FormFacts:
    return FormFacts(form_type, {k.replace("_", ".", 1): v for k, v in values.items()})


def test_t1_met_when_received_on_the_due_date_and_missed_a_day_later() -> None:
    facts = _facts("notification", disposal_type="community", disposal_date="2026-12-23")
    on_time = deadlines_for(facts, date(2026, 12, 30), CALENDAR, SETTINGS)
    late = deadlines_for(facts, date(2026, 12, 31), CALENDAR, SETTINGS)
    assert [(d.id, d.due, d.status) for d in on_time] == [("T1", date(2026, 12, 30), "met")]
    assert [(d.id, d.status) for d in late] == [("T1", "missed")]


def test_t3_reports_the_stated_and_the_adjusted_release_date() -> None:
    facts = _facts(
        "referral",
        disposal_type="custody",
        disposal_release_date="2027-03-26",
        level_proposed=2,
    )
    found = deadlines_for(facts, date(2027, 1, 4), CALENDAR, SETTINGS)
    assert [d.to_json() for d in found] == [
        {
            "id": "T3",
            "from": "2027-03-24",
            "due": "2026-12-30",
            "status": "missed",
            "release_date": "2027-03-26",
            "release_date_adjusted": "2027-03-24",
        },
        {"id": "T4", "from": "2027-01-04", "due": "2027-02-01", "status": "open"},
    ]


def test_level_2_notification_opens_t2_and_level_3_referral_opens_t5() -> None:
    notification = _facts("notification", level_proposed=2)
    referral = _facts("rp_referral", level_proposed=3)
    received = date(2026, 11, 27)  # Friday before St Andrew's Day
    assert [(d.id, d.due) for d in deadlines_for(notification, received, CALENDAR, SETTINGS)] == [
        ("T2", date(2026, 12, 7))
    ]
    assert [(d.id, d.due) for d in deadlines_for(referral, received, CALENDAR, SETTINGS)] == [
        ("T5", date(2026, 12, 7))
    ]


def test_level_1_notification_without_disposal_has_no_deadline() -> None:
    facts = _facts("notification", level_proposed=1)
    assert deadlines_for(facts, date(2026, 11, 23), CALENDAR, SETTINGS) == []
