"""Key rotation with no downtime, on SQLite and a real PostgreSQL: a site whose daemon took
real mail and sent real replies under one key is given a new key (the old one as a previous
key), goes on taking mail while ``keys rotate`` re-seals, and afterwards everything opens,
byte for byte, with the new key alone, and nothing opens with the old one."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from records import keys, ledger
from records.database import Database
from records.errors import SealError
from records.outbox import PENDING_STATES
from records.sealing import Sealer, new_key_text
from records.tables import AuditEntry, InboundMessage, MessageState, OutboundMessage
from tests.app.datasite import (
    AFTER_THE_FIXTURES,
    WITH_DOCUMENTS,
    KeyedSite,
    blobs,
    deliver_fixture,
    sealed_replies,
)

pytestmark = pytest.mark.slow
CLAIMED_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# Taken by the daemon while the rotation runs.
MORE_MAIL = (
    "notification-in-text-body.eml",
    "rp-referral-docx-with-documents.eml",
    "two-forms-attached.eml",
    "referral-l2-docx-with-documents.eml",  # the same message again: recognised, not retaken
)


# -- the keyring -----------------------------------------------------------------------------


def test_the_key_in_force_seals_and_previous_keys_open() -> None:
    old, new = new_key_text(), new_key_text()
    before = Sealer.from_text(old)
    sealed = before.seal(b"raw message")
    ring = Sealer.from_text(new, f" {new_key_text()} ,{old}\n")
    assert ring.open(sealed, before.key_id) == b"raw message"
    assert ring.key_id == Sealer.from_text(new).key_id != before.key_id
    assert ring.open(ring.seal(b"x"), ring.key_id) == b"x"
    assert before.key_id in ring.previous_ids and ring.key_id not in ring.previous_ids
    # The new key alone cannot open what the old one sealed: the daemon stops on this.
    with pytest.raises(SealError, match="not the key in force"):
        Sealer.from_text(new).open(sealed, before.key_id)
    with pytest.raises(SealError, match="not the key in force or a previous key"):
        ring.open(sealed, "0123456789abcdef")
    with pytest.raises(SealError, match="key 2: storage key is not valid base64"):
        Sealer.from_text(new, f"{old} not-a-key!")


# -- re-sealing, batch by batch (records/keys.py) --------------------------------------------


def _claim_many(db: Database, sealer: Sealer, count: int) -> dict[int, bytes]:
    """``count`` messages with their raw bytes sealed by ``sealer``: inbound id -> bytes."""
    stored = {}
    with db.session() as session:
        for n in range(count):
            raw = f"From: a@police.scot\r\nMessage-ID: <{n}@police.scot>\r\n\r\n{n}".encode()
            envelope = ledger.Envelope(f"<{n}@police.scot>", None, None, None)
            row = ledger.claim(
                session, ledger.Place("box", "INBOX", 1, str(n)), raw, envelope, sealer, CLAIMED_AT
            )
            assert row.id is not None
            stored[row.id] = raw
    return stored


def test_a_rotation_stopped_after_one_batch_goes_on_where_it_stopped(db: Database) -> None:
    old_text, new_text = new_key_text(), new_key_text()
    old, ring = Sealer.from_text(old_text), Sealer.from_text(new_text, old_text)
    stored = _claim_many(db, old, keys.BATCH + 5)
    with db.session() as session:
        first = keys.reseal_batch(session, ring)
    assert (first.blobs, first.replies, first.unknown) == (keys.BATCH, 0, [])
    with db.session() as session:
        census = {(c.key_id, c.blobs) for c in keys.census(session)}
    assert census == {(ring.key_id, keys.BATCH), (old.key_id, 5)}
    # Stopped here: the next run takes up the rest, and the one after finds nothing to do.
    with db.session() as session:
        assert keys.reseal_batch(session, ring).blobs == 5
    with db.session() as session:
        assert keys.reseal_batch(session, ring).rows == 0
    alone = Sealer.from_text(new_text)
    with db.session() as session:
        for inbound_id, raw in stored.items():
            assert ledger.raw_bytes(session, inbound_id, alone) == raw


def test_a_batch_holds_a_bounded_number_of_bytes(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_text = new_key_text()
    _claim_many(db, Sealer.from_text(old_text), 3)
    ring = Sealer.from_text(new_key_text(), old_text)
    monkeypatch.setattr(keys, "BATCH_BYTES", 1)  # every row is over it: one row a batch
    for _ in range(3):
        with db.session() as session:
            assert keys.reseal_batch(session, ring).blobs == 1
    with db.session() as session:
        assert keys.reseal_batch(session, ring).rows == 0


def test_a_batch_stops_at_a_key_it_does_not_hold(db: Database) -> None:
    stranger = Sealer.from_text(new_key_text())
    _claim_many(db, stranger, 2)
    ring = Sealer.from_text(new_key_text(), new_key_text())
    with db.session() as session:
        batch = keys.reseal_batch(session, ring)
    assert (batch.rows, batch.unknown) == (0, [stranger.key_id])


def test_a_row_locked_by_another_transaction_is_left_for_later(
    db: Database, database_url: str
) -> None:
    """PostgreSQL: FOR UPDATE SKIP LOCKED, so the rotation never waits on the daemon."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: BEGIN IMMEDIATE queues the rotation")
    old_text, new_text = new_key_text(), new_key_text()
    stored = _claim_many(db, Sealer.from_text(old_text), 3)
    ring = Sealer.from_text(new_text, old_text)
    busy = min(stored)
    other = sa.create_engine(database_url)
    try:
        with other.connect() as connection, connection.begin():
            connection.execute(
                sa.text("SELECT id FROM stored_blob WHERE inbound_id = :i FOR UPDATE"), {"i": busy}
            )
            with db.session() as session:
                assert keys.reseal_batch(session, ring).blobs == 2
            with db.session() as session:
                assert keys.reseal_batch(session, ring).rows == 0  # only the locked row left
        with db.session() as session:
            assert keys.reseal_batch(session, ring).blobs == 1
    finally:
        other.dispose()


# -- keys rotate, with the daemon running --------------------------------------------------


def _settled(site: KeyedSite, messages: int) -> bool:
    database = site.database()
    try:
        with database.session() as session:
            states = session.exec(select(InboundMessage.state)).all()
            pending = session.exec(
                select(OutboundMessage.id).where(col(OutboundMessage.state).in_(PENDING_STATES))
            ).all()
    finally:
        database.dispose()
    return len(states) == messages and MessageState.CLAIMED not in states and not pending


def _audit(site: KeyedSite, action: str) -> list[AuditEntry]:
    database = site.database()
    try:
        with database.session() as session:
            return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)).all())
    finally:
        database.dispose()


def test_keys_rotate_while_the_daemon_takes_mail(tmp_path: Path, database_url: str) -> None:
    site = KeyedSite(tmp_path / "site", database_url)
    for name in WITH_DOCUMENTS:
        deliver_fixture(site, name)
    first = site.run_once("--now", AFTER_THE_FIXTURES)
    assert first.code == 0, first.stderr
    old_text = site.key
    old = Sealer.from_text(old_text)
    stored = blobs(site)
    originals = {b.id: old.open(b.sealed, b.key_id) for b in stored}
    assert {b.kind for b in stored} == {"raw", "attachment"}
    assert all(ledger.sha256(originals[b.id]) == b.sha256 for b in stored)
    replies = {r.id: old.open(r.sealed or b"", r.key_id or "") for r in sealed_replies(site)}
    assert len(replies) == len(WITH_DOCUMENTS)  # each case's acknowledgement, composed and sent

    # The operator's procedure: a new key in force, the old one previous; daemon restarted.
    site.key, site.previous = new_key_text(), old_text
    daemon = site.start_daemon()
    try:
        for name in MORE_MAIL:
            deliver_fixture(site, name)
        rotated = site.cli("keys", "rotate")
        assert rotated.code == 0, rotated.stderr
        assert f"re-sealed: {len(stored)} stored blobs, {len(replies)} replies" in rotated.stdout
        assert "remaining under another key: none" in rotated.stdout
        deadline = time.monotonic() + 180
        while not _settled(site, len(WITH_DOCUMENTS) + len(MORE_MAIL) - 1):
            assert daemon.poll() is None, "the daemon stopped"
            assert time.monotonic() < deadline, "the daemon did not take the mail"
            time.sleep(0.5)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(60) == 0
    again = site.cli("keys", "rotate")
    assert again.code == 0, again.stderr
    assert "re-sealed: 0 stored blobs, 0 replies" in again.stdout

    # Only the new key now: everything opens, byte for byte; the old key opens nothing.
    site.previous = ""
    alone = Sealer.from_text(site.key)
    after = blobs(site)
    assert {b.id for b in stored} <= {b.id for b in after} and len(after) > len(stored)
    for blob in after:
        data = alone.open(blob.sealed, blob.key_id)
        assert ledger.sha256(data) == blob.sha256
        if blob.id in originals:
            assert data == originals[blob.id]
        with pytest.raises(SealError, match="integrity"):
            old.open(blob.sealed, old.key_id)
    after_replies = sealed_replies(site)
    assert {r.id for r in after_replies} >= set(replies)
    for reply in after_replies:
        assert reply.sealed is not None and reply.key_id == alone.key_id
        data = alone.open(reply.sealed, reply.key_id)
        if reply.id in replies:
            assert data == replies[reply.id]
        with pytest.raises(SealError, match="integrity"):
            old.open(reply.sealed, old.key_id)
    cases = site.cli("cases", "--json").json_lines()
    exported = site.cli("export", str(cases[0]["ref"]), "--out", str(site.folder / "a.zip"))
    assert exported.code == 0, exported.stderr

    entries = _audit(site, "keys_rotate")
    assert [e.detail["stage"] for e in entries] == ["begun", "done", "done"]
    assert all(e.user_name.startswith("cli:") for e in entries)
    text = json.dumps([e.detail for e in entries])
    assert old_text not in text and site.key not in text
    assert entries[1].detail["resealed_blobs"] == len(stored)

    # A key that is neither in force nor previous: refused, with what is left, and nothing
    # changed.
    key_ids = [b.key_id for b in blobs(site)]
    site.key = new_key_text()
    refused = site.cli("keys", "rotate")
    assert refused.code == 2
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "neither by the key in force (MAPPA_DATA_KEY)" in refused.stderr
    assert "MAPPA_DATA_KEY_PREVIOUS" in refused.stderr
    assert f"remaining under UNKNOWN key {alone.key_id}: {len(after)} stored blobs" in (
        refused.stdout
    )
    assert [b.key_id for b in blobs(site)] == key_ids
