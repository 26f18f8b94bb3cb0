"""Taking one row of work that several daemons share: the parsing of claimed messages
(records/ledger.py) and the sending and filing of replies (records/outbox.py).

A row is free when nobody has taken it, the taker is the caller, the taker's mark ran out
(``taken_until``), or the taker was a process of this host that no longer exists
(``is_dead``). The oldest free row is locked with ``FOR UPDATE SKIP LOCKED ... LIMIT 1``, so
a row another daemon is taking at this moment is passed over rather than waited for, and only
the row taken is locked; it is then marked as the caller's until ``now + ttl``. The mark is
what keeps the row the caller's after the transaction ends (while it sends, or parses).
SQLite ignores ``FOR UPDATE``: its transactions run one at a time (records/database.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from records.tables import InboundMessage, OutboundMessage

Shared = TypeVar("Shared", InboundMessage, OutboundMessage)


def take_one(
    session: Session,
    table: type[Shared],
    wanted: Collection[sa.ColumnElement[bool]],
    *,
    holder: str,
    now: datetime,
    ttl: timedelta,
    is_dead: Callable[[str], bool],
    skip: Collection[int] = (),
) -> Shared | None:
    """The oldest row of ``table`` meeting ``wanted`` that is free for ``holder`` (and not
    in ``skip``), locked and marked as ``holder``'s; or None."""
    taken_by, taken_until = col(table.taken_by), col(table.taken_until)
    conditions = list(wanted)
    if skip:
        conditions.append(col(table.id).not_in(skip))
    # Takers whose mark still runs: few (one per daemon), each asked once whether it died.
    others = session.exec(
        select(taken_by).where(*conditions, taken_by != holder, taken_until > now).distinct()
    ).all()
    dead = [other for other in others if other is not None and is_dead(other)]
    free = sa.or_(
        taken_by.is_(None),
        taken_by == holder,
        taken_until.is_(None),
        taken_until <= now,
        taken_by.in_(dead),
    )
    row = session.exec(
        select(table)
        .where(*conditions, free)
        .order_by(col(table.id))
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if row is not None:
        row.taken_by, row.taken_until = holder, now + ttl
        session.add(row)
    return row
