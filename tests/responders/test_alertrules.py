"""The alert rules (pure): which conditions hold for a mailbox, and when an episode is over."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from records.health import LOGIN_REFUSED, UNREACHABLE, MailboxFacts
from responders.alertrules import (
    AlertKind,
    AlertLimits,
    mailbox_conditions,
    recovered,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LIMITS = AlertLimits(stale_after=timedelta(minutes=15), silent_working_hours=8)
READ = MailboxFacts(
    mailbox="imap://mappa@mail:993",
    last_read_at=NOW - timedelta(minutes=1),
    lease_until=NOW + timedelta(minutes=4),
    last_message_at=NOW - timedelta(hours=1),
    watched_since=NOW - timedelta(days=30),
)


def _hours(start: datetime, end: datetime) -> float:
    """Every hour counts: the office-hours arithmetic has tests of its own."""
    return (end - start).total_seconds() / 3600


def _kinds(facts: MailboxFacts, limits: AlertLimits = LIMITS) -> list[AlertKind]:
    found = mailbox_conditions(
        facts, wall_now=NOW, domain_now=NOW, limits=limits, working_hours=_hours
    )
    return [c.kind for c in found]


MINUTES_AGO = {m: NOW - timedelta(minutes=m) for m in (1, 2, 10, 20, 30)}
JUST_NOW = NOW - timedelta(seconds=10)  # after READ's last read


@pytest.mark.parametrize(
    ("facts", "kinds"),
    [
        (READ, []),
        (
            replace(READ, failure_kind=LOGIN_REFUSED, failed_at=JUST_NOW),
            [AlertKind.LOGIN_REFUSED],
        ),
        (
            # refused at the first try: at once, not after the stale limit
            replace(READ, last_read_at=None, failure_kind=LOGIN_REFUSED, failed_at=JUST_NOW),
            [AlertKind.LOGIN_REFUSED],
        ),
        (
            # refused before the last good read: over
            replace(READ, failure_kind=LOGIN_REFUSED, failed_at=MINUTES_AGO[10]),
            [],
        ),
        (
            replace(
                READ,
                last_read_at=MINUTES_AGO[30],
                failure_kind=UNREACHABLE,
                failed_at=MINUTES_AGO[1],
                failing_since=MINUTES_AGO[20],
            ),
            [AlertKind.MAILBOX_STALE],
        ),
        (
            # unreachable, but not for long enough yet
            replace(
                READ,
                last_read_at=MINUTES_AGO[10],
                failure_kind=UNREACHABLE,
                failed_at=MINUTES_AGO[1],
                failing_since=MINUTES_AGO[2],
            ),
            [],
        ),
        (
            # a long pass: the lease is held and nothing failed
            replace(READ, last_read_at=MINUTES_AGO[30]),
            [],
        ),
        (
            # nobody holds the lease (a daemon that died, a stopped intake loop)
            replace(READ, last_read_at=MINUTES_AGO[30], lease_until=MINUTES_AGO[10]),
            [AlertKind.MAILBOX_STALE],
        ),
        (
            # never read: counted from the first failure
            replace(
                READ,
                last_read_at=None,
                failure_kind=UNREACHABLE,
                failed_at=MINUTES_AGO[1],
                failing_since=MINUTES_AGO[20],
            ),
            [AlertKind.MAILBOX_STALE],
        ),
        (
            replace(READ, last_read_at=None, lease_until=None),
            [],
        ),
        (
            replace(READ, last_message_at=NOW - timedelta(hours=9)),
            [AlertKind.MAILBOX_SILENT],
        ),
        (
            # never any mail: counted from when it was first watched
            replace(READ, last_message_at=None, watched_since=NOW - timedelta(hours=9)),
            [AlertKind.MAILBOX_SILENT],
        ),
        (
            replace(READ, last_message_at=None, watched_since=NOW - timedelta(hours=7)),
            [],
        ),
        (
            # silent and failing: the failure is the news, silence is not judged
            replace(
                READ,
                last_message_at=NOW - timedelta(hours=9),
                failure_kind=UNREACHABLE,
                failed_at=JUST_NOW,
                failing_since=JUST_NOW,
            ),
            [],
        ),
    ],
    ids=[
        "read and quiet",
        "login refused",
        "login refused, never read",
        "refused before the last read",
        "unreachable past the limit",
        "unreachable within the limit",
        "a long pass",
        "no worker holds it",
        "never read, failing past the limit",
        "never read, nothing known",
        "silent",
        "silent since watched",
        "not yet silent since watched",
        "silent while failing",
    ],
)
def test_conditions(facts: MailboxFacts, kinds: list[AlertKind]) -> None:
    assert _kinds(facts) == kinds


def test_silence_is_not_watched_when_its_limit_is_zero() -> None:
    silent = replace(READ, last_message_at=NOW - timedelta(days=10))
    assert _kinds(silent, replace(LIMITS, silent_working_hours=0)) == []


def test_a_condition_says_what_was_seen_in_references_only() -> None:
    stale = replace(READ, last_read_at=MINUTES_AGO[30], lease_until=None)
    [condition] = mailbox_conditions(
        stale, wall_now=NOW, domain_now=NOW, limits=LIMITS, working_hours=_hours
    )
    assert condition.subject == READ.mailbox
    assert condition.since == MINUTES_AGO[30]
    assert condition.detail == "not read for 30 minutes (last read 2026-11-24 11:30 UTC)"


@pytest.mark.parametrize(
    ("kind", "facts", "over"),
    [
        (AlertKind.MAILBOX_STALE, replace(READ, last_read_at=MINUTES_AGO[30]), False),
        (AlertKind.MAILBOX_STALE, READ, True),
        (AlertKind.LOGIN_REFUSED, replace(READ, last_read_at=None), False),
        (AlertKind.MAILBOX_SILENT, replace(READ, last_message_at=MINUTES_AGO[30]), False),
        (AlertKind.MAILBOX_SILENT, replace(READ, last_message_at=MINUTES_AGO[1]), True),
    ],
    ids=[
        "stale, no read since",
        "stale, read since",
        "refused, never read",
        "silent, no mail since",
        "silent, mail since",
    ],
)
def test_an_episode_ends_on_evidence(kind: AlertKind, facts: MailboxFacts, over: bool) -> None:
    assert recovered(kind, MINUTES_AGO[30], facts) is over
