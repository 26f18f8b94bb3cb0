"""The alert rules (pure): which conditions hold for a mailbox, given what the database knows of
it (``records.health.MailboxFacts``), the time and the limits; and when an episode is over.

* **login refused**: the last read failed because the server refused the password or token.
  Raised at once: retrying will not mend it, and the account may lock.
* **mailbox stale**: no good read for longer than the limit, counted from the last good read
  (or, for a mailbox never read, from its first failure), unless a worker is reading it now
  (it holds the lease, and nothing failed since the last read: a long pass of many scanned
  forms is not a stopped mailbox). A refused login is told once, as itself, not again as this.
* **mailbox silent**: no message at all for that many office hours of working days, counted
  from the newest message (or from when the mailbox was first watched). Not judged while the
  mailbox cannot be read: that is the alert then.

An episode ends on evidence, not on the condition merely looking false: a stale or refused
mailbox when a read succeeds after the episode's facts began; a silent one when mail comes.
So two daemons whose clocks differ by a second never raise, clear and raise again near a limit.
Read and failure times are on the real clock; message times on the domain clock (``--now``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from records.health import LOGIN_REFUSED, MailboxFacts

# (start, end) -> office hours of working days between them (triage.workhours).
WorkingHours = Callable[[datetime, datetime], float]


class AlertKind(StrEnum):
    LOGIN_REFUSED = "login_refused"
    MAILBOX_STALE = "mailbox_stale"
    MAILBOX_SILENT = "mailbox_silent"
    OUTBOX_FAILED = "outbox_failed"


# Kinds about one mailbox (the subject is its name): raised and cleared by these rules.
MAILBOX_KINDS = (AlertKind.LOGIN_REFUSED, AlertKind.MAILBOX_STALE, AlertKind.MAILBOX_SILENT)


@dataclass(frozen=True, slots=True)
class AlertLimits:
    stale_after: timedelta
    silent_working_hours: float  # 0: silence is not watched


@dataclass(frozen=True, slots=True)
class Condition:
    kind: AlertKind
    subject: str  # the mailbox's name
    since: datetime | None  # when the facts behind it began
    detail: str  # references only: times, counts, the mailbox's name


def reading_now(facts: MailboxFacts, now: datetime) -> bool:
    """A worker holds the mailbox's lease and its last attempt did not fail."""
    return facts.lease_until is not None and facts.lease_until > now and not facts.failing


def unread_since(facts: MailboxFacts) -> datetime | None:
    """From when the mailbox counts as unread: its last good read, or, never read, the first
    failure (None: nothing is known yet)."""
    if facts.last_read_at is not None:
        return facts.last_read_at
    return facts.failing_since if facts.failing else None


def login_refused(facts: MailboxFacts) -> bool:
    return facts.failing and facts.failure_kind == LOGIN_REFUSED


def stale(facts: MailboxFacts, now: datetime, limit: timedelta) -> bool:
    since = unread_since(facts)
    return since is not None and now - since > limit and not reading_now(facts, now)


def _minutes(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    return f"{minutes:.1f} minutes" if minutes < 10 else f"{minutes:.0f} minutes"


def mailbox_conditions(
    facts: MailboxFacts,
    *,
    wall_now: datetime,
    domain_now: datetime,
    limits: AlertLimits,
    working_hours: WorkingHours,
) -> list[Condition]:
    """The conditions that hold for one mailbox now (``wall_now`` for reads and failures,
    ``domain_now`` for the mail's own times)."""
    name = facts.mailbox
    if login_refused(facts):
        at = facts.failed_at
        assert at is not None
        return [Condition(AlertKind.LOGIN_REFUSED, name, at, f"login refused at {at:%H:%M} UTC")]
    since = unread_since(facts)
    if stale(facts, wall_now, limits.stale_after):
        assert since is not None
        what = "last read" if facts.last_read_at else "failing since"
        detail = f"not read for {_minutes(wall_now - since)} ({what} {since:%Y-%m-%d %H:%M} UTC)"
        return [Condition(AlertKind.MAILBOX_STALE, name, since, detail)]
    if facts.failing or limits.silent_working_hours <= 0:
        return []
    quiet_from = facts.last_message_at or facts.watched_since
    if quiet_from is None:
        return []
    quiet = working_hours(quiet_from, domain_now)
    if quiet < limits.silent_working_hours:
        return []
    what = "last message" if facts.last_message_at else "watched since"
    detail = f"no mail for {quiet:.1f} working hours ({what} {quiet_from:%Y-%m-%d %H:%M %Z})"
    return [Condition(AlertKind.MAILBOX_SILENT, name, quiet_from, detail)]


def recovered(kind: str, since: datetime | None, facts: MailboxFacts) -> bool:
    """Is an episode of ``kind`` whose facts began at ``since`` over?"""
    if kind == AlertKind.MAILBOX_SILENT:
        return facts.last_message_at is not None and (
            since is None or facts.last_message_at > since
        )
    # Stale or refused: read in full after the facts began.
    return facts.last_read_at is not None and (since is None or facts.last_read_at > since)
