"""One reader at a time per mailbox: a lease row with a holder and an expiry.

A daemon takes the lease before reading a mailbox and renews it as it works; a second daemon
(an overlapping cron run, a restarted container) finds it held and waits. A holder that died
stops renewing, and the lease passes on once it expires, or at once when the caller can tell
that the holder is dead (``is_dead``: a process of the same host that no longer exists). The
claim of each message checks the lease in its own transaction (``holds``), so a holder whose
lease lapsed mid-run cannot claim. ``HeldLease`` is how a worker holds one: renewed only when
little of it is left, so a busy pass costs one lease transaction every few minutes.

Leases run on the real clock, never the domain clock (``run --now`` replays the past).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from records.database import Database
from records.tables import MailboxLease

# A lease outlives a pass's longest quiet spell (one slow document) by a wide margin.
LEASE_TTL = timedelta(minutes=5)
# Renew the lease when less than this is left.
LEASE_RENEW_WITHIN = timedelta(minutes=4)


def process_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_is_dead(holder: str) -> bool:
    """True when the holder was a process on this host that no longer exists (it was killed
    or crashed): its lease need not run out before another process takes over. A holder on
    another host, or a live process, is never judged dead here."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


def wall_clock() -> datetime:
    return datetime.now(UTC)


def acquire(
    session: Session,
    mailbox: str,
    holder: str,
    now: datetime,
    ttl: timedelta,
    is_dead: Callable[[str], bool] = lambda _holder: False,
) -> bool:
    """Take or renew the lease; False if another, living holder's lease is still running."""
    lease = session.exec(
        select(MailboxLease).where(MailboxLease.mailbox == mailbox).with_for_update()
    ).first()
    if lease is None:
        try:
            with session.begin_nested():
                session.add(MailboxLease(mailbox=mailbox, holder=holder, expires_at=now + ttl))
        except IntegrityError:  # another process inserted it first
            return False
        return True
    if lease.holder != holder and lease.expires_at > now and not is_dead(lease.holder):
        return False
    lease.holder = holder
    lease.expires_at = now + ttl
    session.add(lease)
    return True


def holds(session: Session, mailbox: str, holder: str, now: datetime) -> bool:
    lease = session.get(MailboxLease, mailbox)
    return lease is not None and lease.holder == holder and lease.expires_at > now


def release(session: Session, mailbox: str, holder: str, now: datetime) -> None:
    lease = session.get(MailboxLease, mailbox)
    if lease is not None and lease.holder == holder:
        lease.expires_at = now
        session.add(lease)


def mark_read(session: Session, mailbox: str, now: datetime) -> None:
    """Remember when the mailbox was last read in full (``status`` shows it)."""
    lease = session.get(MailboxLease, mailbox)
    if lease is not None:
        lease.last_read_at = now
        session.add(lease)


class HeldLease:
    """The lease ``name`` as this process holds it."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        self.holder = process_holder()
        self._until: datetime | None = None

    def take(self) -> bool:
        """Take or renew it now; False if another, living holder has it."""
        now = wall_clock()
        with self.db.session() as session:
            taken = acquire(session, self.name, self.holder, now, LEASE_TTL, holder_is_dead)
        self._until = now + LEASE_TTL if taken else None
        return taken

    def keep(self) -> bool:
        """Renew it if little is left; False if it was lost to another process."""
        left = None if self._until is None else self._until - wall_clock()
        return (left is not None and left >= LEASE_RENEW_WITHIN) or self.take()

    def holds(self, session: Session) -> bool:
        """Still ours, checked in the caller's transaction (before a claim)."""
        return holds(session, self.name, self.holder, wall_clock())

    def release(self) -> None:
        with self.db.session() as session:
            release(session, self.name, self.holder, wall_clock())
        self._until = None
