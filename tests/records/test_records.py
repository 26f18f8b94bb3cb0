"""records/ on SQLite and on a real PostgreSQL: the schema the migrations build, the
append-only event log, sealing, case references, leases and the ledger's keys."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from records import cases, leases, ledger
from records.database import Database
from records.errors import SealError
from records.events import record_event
from records.sealing import Sealer, new_key_text
from records.tables import EventKind
from tests.conftest import ROOT
from tests.servers import Postgres

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PLACE = ledger.Place("imap://mappa@mail", "INBOX", 17, "41")
ENVELOPE = ledger.Envelope("<m1@police.scot>", "a@police.scot", NOW, NOW)


def test_migrations_build_exactly_the_tables_of_the_code(db: Database) -> None:
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_migrate_twice_is_harmless(db: Database) -> None:
    db.migrate()


def test_the_event_log_is_append_only(db: Database) -> None:
    with db.session() as session:
        record_event(session, EventKind.RECEIVED, NOW, size=10)
    for statement in ("UPDATE event SET kind = 'decided'", "DELETE FROM event"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.session() as session:
            session.exec(sa.text(statement))  # type: ignore[call-overload]
    with db.session() as session:
        assert session.exec(sa.text("SELECT kind FROM event")).all() == [("received",)]  # type: ignore[call-overload]


def test_sealed_bytes_open_only_with_their_key(sealer: Sealer) -> None:
    sealed = sealer.seal(b"raw message")
    assert b"raw message" not in sealed
    assert sealer.open(sealed, sealer.key_id) == b"raw message"
    other = Sealer.from_text(new_key_text())
    with pytest.raises(SealError, match="not the key in force"):
        other.open(sealed, sealer.key_id)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError, match="integrity"):
        sealer.open(tampered, sealer.key_id)
    with pytest.raises(SealError, match="base64"):
        Sealer.from_text("not a key!")
    with pytest.raises(SealError, match="32 bytes"):
        Sealer.from_text("c2hvcnQ=")


def test_a_claim_stores_sealed_raw_bytes(db: Database, sealer: Sealer) -> None:
    with db.session() as session:
        row = ledger.claim(session, PLACE, b"From: a@police.scot\r\n\r\nhi", ENVELOPE, sealer, NOW)
    with db.session() as session:
        assert row.id is not None
        assert ledger.raw_bytes(session, row.id, sealer) == b"From: a@police.scot\r\n\r\nhi"
        stored = session.exec(sa.text("SELECT sealed FROM stored_blob")).one()[0]  # type: ignore[call-overload]
        assert b"police.scot" not in bytes(stored)


def test_one_place_is_claimed_once(db: Database, sealer: Sealer) -> None:
    with db.session() as session:
        ledger.claim(session, PLACE, b"one", ENVELOPE, sealer, NOW)
    with pytest.raises(IntegrityError), db.session() as session:
        ledger.claim(session, PLACE, b"two", ENVELOPE, sealer, NOW)


def test_the_same_message_is_known_by_bytes_and_message_id(db: Database, sealer: Sealer) -> None:
    with db.session() as session:
        ledger.claim(session, PLACE, b"bytes", ENVELOPE, sealer, NOW)
    with db.session() as session:
        digest = ledger.sha256(b"bytes")
        assert ledger.find_same(session, PLACE.mailbox, digest, "<m1@police.scot>") is not None
        # A reused Message-ID with other bytes is another message; so are the same bytes
        # under another Message-ID.
        assert (
            ledger.find_same(session, PLACE.mailbox, ledger.sha256(b"other"), "<m1@police.scot>")
            is None
        )
        assert ledger.find_same(session, PLACE.mailbox, digest, "<m2@police.scot>") is None


def test_case_references_count_per_year(db: Database) -> None:
    with db.session() as session:
        refs = [cases.next_ref(session, 2026) for _ in range(3)] + [cases.next_ref(session, 2027)]
    assert refs == ["MAPPA-2026-0001", "MAPPA-2026-0002", "MAPPA-2026-0003", "MAPPA-2027-0001"]
    with db.session() as session:
        assert cases.next_ref(session, 2026) == "MAPPA-2026-0004"


def test_a_lease_has_one_holder_until_it_expires(db: Database) -> None:
    ttl = timedelta(minutes=5)
    with db.session() as session:
        assert leases.acquire(session, "box", "host:1:a", NOW, ttl)
    with db.session() as session:
        assert not leases.acquire(session, "box", "host:2:b", NOW + timedelta(minutes=1), ttl)
        assert leases.holds(session, "box", "host:1:a", NOW + timedelta(minutes=1))
    with db.session() as session:
        assert leases.acquire(session, "box", "host:2:b", NOW + timedelta(minutes=6), ttl)
        assert not leases.holds(session, "box", "host:1:a", NOW + timedelta(minutes=6))


def test_a_dead_holder_gives_the_lease_up_at_once(db: Database) -> None:
    ttl = timedelta(minutes=5)
    with db.session() as session:
        assert leases.acquire(session, "box", "host:1:a", NOW, ttl)
    with db.session() as session:
        assert leases.acquire(session, "box", "host:2:b", NOW, ttl, lambda h: h == "host:1:a")


def test_two_processes_migrate_one_fresh_database_at_once(postgres: Postgres) -> None:
    """The daemon starting while a command runs: both migrate one fresh database, neither
    fails (Alembic keeps module state, so these are processes, as in real use)."""
    script = "import sys; from records.database import Database; Database(sys.argv[1]).migrate()"
    for attempt in range(3):
        url = postgres.create_database(f"race{uuid.uuid4().hex[:10]}{attempt}")
        runs = [
            subprocess.Popen([sys.executable, "-c", script, url], cwd=ROOT, stderr=subprocess.PIPE)
            for _ in range(3)
        ]
        failures = [run.communicate(timeout=120)[1] for run in runs if run.wait(timeout=120)]
        assert failures == []
