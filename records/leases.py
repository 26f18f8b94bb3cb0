"""One intake at a time per mailbox: a lease row with a holder and an expiry.

A daemon takes the lease before reading a mailbox and renews it as it works; a second daemon
(an overlapping cron run, a restarted container) finds it held and waits. A holder that died
stops renewing, and the lease passes on once it expires, or at once when the caller can tell
that the holder is dead (``is_dead``: a process of the same host that no longer exists). The
claim of each message checks the lease in its own transaction (``holds``), so a holder whose
lease lapsed mid-run cannot claim.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from records.tables import MailboxLease


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
