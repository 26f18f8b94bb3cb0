"""Health of the service as the database knows it: how each mailbox is being read, the alert
episodes, and the figures ``/metrics`` exposes.

* ``note_mailbox_failure`` and ``note_token_expiry`` are written by the daemon (its exception
  boundary, the token source); the last good read is the lease's ``last_read_at``
  (records/leases.py), written by the intake worker after every full pass.
* ``mailbox_facts`` gathers, for each mailbox, everything the alert rules judge
  (responders/alertrules.py): the same facts for every process, so several daemons, the
  ``status`` command and a scrape of any of them agree.
* An alert **episode** (``AlertState``) is raised once: (kind, subject, episode) is unique, so
  when two daemons see a condition begin at the same moment the second insert fails and that
  daemon does nothing. Clearing is one conditional UPDATE, so it too happens once.

Failure and read times are on the real clock (like the leases); ``watched_since`` and the time
of the last message are on the domain clock (``run --now``), like ``received_at``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from records import outbox
from records.tables import (
    AlertState,
    ChaseStep,
    InboundMessage,
    MailboxHealth,
    MailboxLease,
    OutboundMessage,
    QuarantineEntry,
    QuarantineState,
)

# What a failed read was (MailboxHealth.failure_kind).
LOGIN_REFUSED = "login_refused"  # the password or token was refused
UNREACHABLE = "unreachable"  # the server (or the Maildir) could not be reached or read


@dataclass(frozen=True, slots=True)
class MailboxFacts:
    """One mailbox as the database knows it."""

    mailbox: str
    last_read_at: datetime | None = None  # the last full pass (real clock)
    lease_until: datetime | None = None  # a worker holds the mailbox until then (real clock)
    failure_kind: str = ""
    failed_at: datetime | None = None  # the last failed read (real clock)
    failing_since: datetime | None = None  # the first failure since a good read
    token_expires_at: datetime | None = None
    watched_since: datetime | None = None  # domain clock
    last_message_at: datetime | None = None  # the newest message claimed (domain clock)

    @property
    def failing(self) -> bool:
        """The last attempt to read it failed (nothing was read since)."""
        return self.failed_at is not None and (
            self.last_read_at is None or self.failed_at > self.last_read_at
        )


# -- written by the daemon ------------------------------------------------------------------


def _health_row(session: Session, mailbox: str) -> MailboxHealth:
    """The mailbox's row, locked; made now if it is the first news of it."""
    found = session.get(MailboxHealth, mailbox, with_for_update=True)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            row = MailboxHealth(mailbox=mailbox)
            session.add(row)
        return row
    except IntegrityError:  # another process made it first (PostgreSQL)
        made = session.get(MailboxHealth, mailbox, with_for_update=True)
        assert made is not None
        return made


def note_mailbox_failure(session: Session, mailbox: str, kind: str, now: datetime) -> None:
    """A read of ``mailbox`` failed (``LOGIN_REFUSED`` or ``UNREACHABLE``) at ``now``."""
    row = _health_row(session, mailbox)
    lease = session.get(MailboxLease, mailbox)
    last_read = lease.last_read_at if lease is not None else None
    # A new run of failures begins if there was none, or a good read came after the last one.
    if row.failed_at is None or (last_read is not None and last_read > row.failed_at):
        row.failing_since = now
    row.failure_kind = kind
    row.failed_at = now
    session.add(row)


def note_token_expiry(session: Session, mailbox: str, expires_at: datetime) -> None:
    """When the OAuth 2.0 access token the mailbox is read with runs out."""
    row = _health_row(session, mailbox)
    row.token_expires_at = expires_at
    session.add(row)


def note_watched(session: Session, mailbox: str, now: datetime) -> None:
    """Silence is counted from the first time the mailbox was watched, until mail comes."""
    found = session.get(MailboxHealth, mailbox)
    if found is not None and found.watched_since is not None:
        return
    row = _health_row(session, mailbox)
    if row.watched_since is None:
        row.watched_since = now
        session.add(row)


# -- read -----------------------------------------------------------------------------------


def known_mailboxes(session: Session) -> list[str]:
    """Every mailbox any process has read or tried to read."""
    leased = session.exec(select(MailboxLease.mailbox)).all()
    noted = session.exec(select(MailboxHealth.mailbox)).all()
    return sorted({*leased, *noted})


def last_message_at(session: Session, mailbox: str) -> datetime | None:
    """When the newest message of the mailbox was claimed. By id, newest first: the newest
    row is the last claimed, and the primary key finds it without reading the rest."""
    return session.exec(
        select(InboundMessage.received_at)
        .where(InboundMessage.mailbox == mailbox)
        .order_by(col(InboundMessage.id).desc())
        .limit(1)
    ).first()


def mailbox_facts(session: Session, mailboxes: Iterable[str]) -> list[MailboxFacts]:
    facts = []
    for name in mailboxes:
        lease = session.get(MailboxLease, name)
        health = session.get(MailboxHealth, name)
        facts.append(
            MailboxFacts(
                mailbox=name,
                last_read_at=lease.last_read_at if lease else None,
                lease_until=lease.expires_at if lease else None,
                failure_kind=health.failure_kind if health else "",
                failed_at=health.failed_at if health else None,
                failing_since=health.failing_since if health else None,
                token_expires_at=health.token_expires_at if health else None,
                watched_since=health.watched_since if health else None,
                last_message_at=last_message_at(session, name),
            )
        )
    return facts


# -- alert episodes -------------------------------------------------------------------------


def open_episodes(session: Session, subjects: Iterable[str] | None = None) -> list[AlertState]:
    """Episodes raised and not cleared, oldest first (of ``subjects`` only, if given)."""
    query = select(AlertState).where(col(AlertState.cleared_at).is_(None))
    if subjects is not None:
        query = query.where(col(AlertState.subject).in_(list(subjects)))
    return list(session.exec(query.order_by(col(AlertState.id))).all())


def latest_episode(session: Session, kind: str, subject: str) -> AlertState | None:
    """The newest episode of (kind, subject), as the database has it now (not as loaded
    earlier in the transaction)."""
    return session.exec(
        select(AlertState)
        .where(AlertState.kind == kind, AlertState.subject == subject)
        .order_by(col(AlertState.episode).desc())
        .limit(1)
        .execution_options(populate_existing=True)
    ).first()


def raise_episode(
    session: Session,
    *,
    kind: str,
    subject: str,
    since: datetime | None,
    detail: str,
    now: datetime,
) -> AlertState | None:
    """A new episode of (kind, subject); None if one is open, or another process raised it
    first (the unique episode number).

    Whether the latest episode is open and its number come from one statement, one snapshot:
    read separately (PostgreSQL, read committed), another daemon's episode committed between
    the two reads would be missed by the first and numbered past by the second."""
    latest = latest_episode(session, kind, subject)
    if latest is not None and latest.cleared_at is None:
        return None
    return _insert_after(session, latest, kind, subject, since, detail, now)


def raise_event(
    session: Session,
    *,
    after: AlertState | None,
    kind: str,
    subject: str,
    detail: str,
    now: datetime,
    outbox_upto: int,
) -> AlertState | None:
    """An episode that is over as soon as raised (a batch of outbox failures), numbered next
    after ``after``, the latest episode the caller read its facts against (its
    ``outbox_upto``): two daemons that read the same one make the same number, and the second
    insert fails. None if another process raised it first."""
    row = _insert_after(session, after, kind, subject, None, detail, now, outbox_upto)
    if row is not None:
        row.cleared_at = now
        session.add(row)
    return row


def _insert_after(
    session: Session,
    latest: AlertState | None,
    kind: str,
    subject: str,
    since: datetime | None,
    detail: str,
    now: datetime,
    outbox_upto: int | None = None,
) -> AlertState | None:
    row = AlertState(
        kind=kind,
        subject=subject,
        episode=(latest.episode if latest else 0) + 1,
        since=since,
        detail=detail[:500],
        outbox_upto=outbox_upto,
        raised_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same number, raised by another process first
        return None
    return row


def clear_episode(session: Session, episode_id: int, now: datetime) -> bool:
    """End an episode; False if another process ended it first."""
    done = session.execute(
        sa.update(AlertState)
        .where(col(AlertState.id) == episode_id, col(AlertState.cleared_at).is_(None))
        .values(cleared_at=now)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def outbox_failures_after(
    session: Session, after: int, excluded_kind: str
) -> Sequence[OutboundMessage]:
    """Messages that failed or were refused for good, newer than row ``after``; never those of
    ``excluded_kind`` (an alert that cannot be sent must not raise an alert to the same
    address, and so on for ever)."""
    return session.exec(
        select(OutboundMessage)
        .where(col(OutboundMessage.state).in_(outbox.FAILED_STATES))
        .where(col(OutboundMessage.id) > after)
        .where(OutboundMessage.kind != excluded_kind)
        .order_by(col(OutboundMessage.id))
    ).all()


# -- figures for /metrics -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    """Counts read at scrape time, each grouped by its labels."""

    received: dict[str, int]  # mailbox -> messages claimed
    quarantined: dict[str, int]  # kind -> ever quarantined
    held: dict[str, int]  # kind -> held now
    outbox: dict[tuple[str, str], int]  # (kind, state) -> rows
    chases: dict[tuple[str, str], int]  # (kind, state) -> chase steps
    alerts_raised: dict[str, int]  # kind -> episodes raised


def _counts(session: Session, *columns: Any, where: Any = None) -> dict[tuple[str, ...], int]:
    """Rows counted by the values of ``columns``: {(value, ...): count}."""
    query = sa.select(*columns, sa.func.count()).group_by(*columns)
    if where is not None:
        query = query.where(where)
    return {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in session.execute(query)}


def _by_one(counts: dict[tuple[str, ...], int]) -> dict[str, int]:
    return {key[0]: n for key, n in counts.items()}


def _by_two(counts: dict[tuple[str, ...], int]) -> dict[tuple[str, str], int]:
    return {(key[0], key[1]): n for key, n in counts.items()}


def figures(session: Session) -> Figures:
    kind = col(QuarantineEntry.kind)
    return Figures(
        received=_by_one(_counts(session, col(InboundMessage.mailbox))),
        quarantined=_by_one(_counts(session, kind)),
        held=_by_one(_counts(session, kind, where=QuarantineEntry.state == QuarantineState.HELD)),
        outbox=_by_two(_counts(session, col(OutboundMessage.kind), col(OutboundMessage.state))),
        chases=_by_two(_counts(session, col(ChaseStep.kind), col(ChaseStep.state))),
        alerts_raised=_by_one(_counts(session, col(AlertState.kind))),
    )
