"""Several senders share the outbox (records/outbox.py): each row taken by one sender at a time
(``FOR UPDATE SKIP LOCKED``, then marked as that sender's), the per-recipient hourly rate kept
exact across senders, and three real daemons on PostgreSQL, one killed at random again and
again, sending every reply once and filing one copy of each in a real Dovecot's Sent folder."""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from records import outbox
from records.database import Database
from records.tables import OutboundMessage
from tests.intake import imap_tools
from tests.intake.site import Site, stop_daemons
from tests.responders.outbox_tools import queue_replies
from tests.servers import Dovecot, Postgres, smtp_sink

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
OFFICER = "moira.dunlop@police.scot"
NURSE = "callum.rennie@nhs.scot"


def _alive(_holder: str) -> bool:
    return False


def _queue(db: Database, *recipients: str) -> list[int]:
    ids = []
    with db.session() as session:
        for n, recipient in enumerate(recipients):
            row = outbox.queue(
                session,
                key=outbox.outbox_key("MAPPA-2026-0101", "acknowledgement", n),
                kind="acknowledgement",
                recipient=recipient,
                now=NOW,
                message_id_domain="southlanarkshire.gov.uk",
                step=n,
            )
            session.flush()
            assert row.id is not None
            ids.append(row.id)
    return ids


def _take(session: Session, holder: str, **kwargs: object) -> int | None:
    row = outbox.take_due(session, holder, NOW, NOW, kwargs.pop("is_dead", _alive), **kwargs)  # type: ignore[arg-type]
    return None if row is None else row.id


@pytest.fixture
def pg(postgres: Postgres) -> Iterator[Database]:
    database = Database(postgres.create_database(f"o{uuid.uuid4().hex[:12]}"))
    database.migrate()
    yield database
    database.dispose()


def test_a_row_taken_by_a_living_sender_is_left_to_it(db: Database) -> None:
    first, second = _queue(db, OFFICER, OFFICER)
    with db.session() as session:
        assert _take(session, "north:1") == first
    with db.session() as session:
        assert _take(session, "south:2") == second
    with db.session() as session:
        assert _take(session, "east:3") is None  # both are being sent by living senders
        assert _take(session, "north:1", skip={second}) == first  # its own, taken again
    with db.session() as session:
        # A sender that died (seen on the same host) hands its row on at once ...
        assert _take(session, "east:3", is_dead=lambda holder: holder == "north:1") == first
    later = NOW + outbox.TAKE_TTL
    with db.session() as session:
        # ... and one on another host when its mark runs out.
        row = outbox.take_due(session, "east:3", NOW, later, _alive, {first})
        assert row is not None and row.id == second
    with db.session() as session:
        outbox.let_go(session, "east:3")  # it stops
    with db.session() as session:
        assert _take(session, "west:4") == first


def test_two_senders_take_different_rows_at_once(pg: Database) -> None:
    first, second, third = _queue(pg, OFFICER, OFFICER, NURSE)
    with pg.session() as one, pg.session() as two:
        assert _take(one, "north:1") == first
        # The first row is locked by a transaction still open: passed over, not waited for.
        assert _take(two, "south:2") == second
    with pg.session() as three:
        assert _take(three, "east:3") == third


def test_a_sender_that_lost_its_row_does_not_begin_data(db: Database) -> None:
    [row_id] = _queue(db, OFFICER)
    with db.session() as session:
        assert _take(session, "north:1") == row_id
    with db.session() as session:
        # north:1 was slow beyond its mark; south:2 took the row over.
        row = outbox.take_due(session, "south:2", NOW, NOW + outbox.TAKE_TTL, _alive)
        assert row is not None
    with db.session() as session:
        assert not outbox.begin_data(session, row_id, "north:1")
        assert outbox.begin_data(session, row_id, "south:2")


def test_the_rate_counts_what_every_sender_admitted(db: Database) -> None:
    first, second, third = _queue(db, OFFICER, OFFICER, OFFICER)
    with db.session() as session:
        row = outbox.locked(session, first)
        assert outbox.admit(session, row, NOW, per_hour=2) is None
    with db.session() as session:
        row = outbox.locked(session, second)
        assert outbox.admit(session, row, NOW + timedelta(minutes=10), per_hour=2) is None
    with db.session() as session:
        row = outbox.locked(session, third)
        assert outbox.admit(session, row, NOW + timedelta(minutes=20), per_hour=2) == (
            NOW + timedelta(hours=1)
        )
        # The first could not be delivered after all: its place is free again.
        outbox.defer(session, first, NOW + timedelta(hours=2), "421 try later", failed=True)
    with db.session() as session:
        row = outbox.locked(session, third)
        assert outbox.admit(session, row, NOW + timedelta(minutes=20), per_hour=2) is None
    with db.session() as session:
        # A row admitted before its sender stopped keeps its place.
        row = outbox.locked(session, second)
        assert outbox.admit(session, row, NOW + timedelta(minutes=30), per_hour=2) is None


def test_two_senders_admit_to_one_recipient_one_at_a_time(pg: Database) -> None:
    first, second, third = _queue(pg, OFFICER, OFFICER.upper(), NURSE)
    answer: list[datetime | None] = []
    with pg.session() as one:
        assert outbox.admit(one, outbox.locked(one, first), NOW, per_hour=1) is None

        def other_sender() -> None:
            with pg.session() as two:
                answer.append(outbox.admit(two, outbox.locked(two, second), NOW, per_hour=1))

        waiting = threading.Thread(target=other_sender)
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive(), "the second sender did not wait for the first"
        with pg.session() as three:  # another recipient is not held up
            assert outbox.admit(three, outbox.locked(three, third), NOW, per_hour=1) is None
    waiting.join(timeout=10)
    # It saw the first one's place once that was committed: the rate is full.
    assert answer == [NOW + timedelta(hours=1)]


# -- three daemons ------------------------------------------------------------------------

SENDERS = 3
REPLIES = 120
KILLS = 12
SEED = 20261123


@pytest.mark.slow
def test_three_daemons_killed_at_random_send_and_file_every_reply_once(
    dovecot: Dovecot, postgres: Postgres, tmp_path: Path
) -> None:
    imap_tools.empty(dovecot)
    rng = random.Random(SEED)
    with smtp_sink(data_delay=0.15) as sink:
        site = Site(
            tmp_path / "site",
            postgres.create_database(f"senders{os.getpid()}"),
            dovecot,
            smtp=sink,
            settings={
                "outgoing": {"per_recipient_per_hour": 100_000},
                "mailbox": {"sent_folder": "Sent Items", "wait_seconds": 2.0},
            },
        )
        queue_replies(site, sink, REPLIES)
        database = site.database()
        daemons = [site.start_daemon() for _ in range(SENDERS)]
        try:
            for _kill in range(KILLS):
                time.sleep(rng.uniform(0.3, 1.2))
                victim = rng.randrange(SENDERS)
                assert daemons[victim].poll() is None, "a daemon stopped by itself"
                daemons[victim].kill()
                daemons[victim].wait()
                daemons[victim] = site.start_daemon()
            _wait_until_filed(database, REPLIES + 1)
        finally:
            stop_daemons(daemons)
        with database.session() as session:
            rows = session.exec(select(OutboundMessage).where(OutboundMessage.step > 0)).all()
        database.dispose()
        received = sink.received()

    assert len(rows) == REPLIES
    copies = Counter(r.message["Message-ID"] for r in received)
    assert set(copies) == {r.message_id for r in rows}  # none lost, nothing else sent
    for row in rows:
        # An extra copy needs a DATA exchange of its own, cut by a kill before "sent".
        assert copies[row.message_id] - 1 <= row.data_attempts - 1, row.key
    assert {(r.state, r.taken_by) for r in rows} == {("filed", None)}
    # The senders worked at the same time: most DATA exchanges overlapped another (one sender
    # at a time would overlap only where a kill cut in after the message's last line).
    spans = sorted((r.began, r.at) for r in received)
    overlaps = sum(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))
    assert overlaps > len(spans) // 3, overlaps
    print(f"\n{len(spans)} DATA exchanges, {overlaps} overlapping the one before")
    # One copy of each reply (and of the first acknowledgement) in the Sent folder.
    with imap_tools.client(dovecot) as connection:
        connection.select_folder("Sent Items", readonly=True)
        filed = connection.fetch(connection.search(), ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    ids = Counter(
        data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split(":", 1)[1].strip()
        for data in filed.values()
    )
    assert max(ids.values()) == 1
    assert len(ids) == REPLIES + 1


def _wait_until_filed(database: Database, expected: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with database.session() as session:
            rows = session.exec(select(OutboundMessage.state)).all()
        if len(rows) == expected and set(rows) == {"filed"}:
            return
        time.sleep(0.5)
    raise AssertionError(f"not all filed in {timeout} s: {Counter(rows)}")
