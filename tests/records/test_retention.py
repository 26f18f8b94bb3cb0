"""records/retention.py's rules on SQLite and a real PostgreSQL, on rows made directly: a
message on two cases goes only when both have expired; a reply still to send keeps its case's
mail; a period of 0 keeps everything; the daemon's pass runs it at most every ten minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from app.retention import DAEMON_EVERY, DaemonRetention
from app.settings import load
from records import cases as case_records
from records import ledger
from records.database import Database
from records.retention import RetentionPolicy, purge_expired
from records.sealing import Sealer, new_key_text
from records.tables import Case, CaseState, Form, OutboundMessage, OutboxState, StoredBlob

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
POLICY = RetentionPolicy(closed_case_days=90, decided_case_days=365, quarantine_days=30)


def _message(db: Database, n: int) -> int:
    sealer = Sealer.from_text(new_key_text())
    with db.session() as session:
        row = ledger.claim(
            session,
            ledger.Place("box", "INBOX", 1, str(n)),
            f"Message-ID: <{n}@police.scot>\r\n\r\nform {n}".encode(),
            ledger.Envelope(f"<{n}@police.scot>", None, None, None),
            sealer,
            T0,
        )
        assert row.id is not None
        ledger.store_blob(session, row.id, "attachment", "referral.pdf", b"%PDF-", sealer)
        ledger.mark_processed(session, row)
        return row.id


def _case(db: Database, inbound_ids: list[int], state: CaseState, changed: datetime) -> int:
    with db.session() as session:
        case = case_records.open_case(session, "referral", T0, T0)
        assert case.id is not None
        for inbound_id in inbound_ids:
            session.add(
                Form(
                    case_id=case.id,
                    inbound_id=inbound_id,
                    source="message#attachment:referral.pdf",
                    form_type="referral",
                    warnings=[],
                    attachments=[],
                    created_at=T0,
                )
            )
        case.state, case.updated_at = state, changed
        case.closed_at = changed if state is CaseState.CLOSED else None
        session.add(case)
        return case.id


def _held(db: Database, inbound_id: int) -> bool:
    with db.session() as session:
        blobs = session.exec(select(StoredBlob).where(StoredBlob.inbound_id == inbound_id)).all()
    assert blobs
    return all(b.purged_at is None and b.sealed for b in blobs)


def test_a_message_on_two_cases_goes_with_the_last_of_them(db: Database) -> None:
    shared, own = _message(db, 1), _message(db, 2)
    closed = _case(db, [shared, own], CaseState.CLOSED, T0)
    other = _case(db, [shared], CaseState.AWAITING_DECISION, T0)
    report = purge_expired(db, T0 + timedelta(days=91), POLICY)
    assert report.raw_messages == 1 and report.attachments == 1
    assert not _held(db, own) and _held(db, shared)
    with db.session() as session:
        case = session.get(Case, other)
        assert case is not None
        case.state, case.updated_at = CaseState.DECIDED, T0
        session.add(case)
    assert purge_expired(db, T0 + timedelta(days=364), POLICY).purged == 0
    later = purge_expired(db, T0 + timedelta(days=366), POLICY)
    assert later.raw_messages == 1 and not _held(db, shared)
    with db.session() as session:
        refs = {c.id: c.ref for c in session.exec(select(Case)).all()}
    # The shared message was on both: both cases lost its bytes in the later run.
    assert report.cases == [refs[closed]] and later.cases == [refs[closed], refs[other]]


def test_a_reply_still_to_send_keeps_its_case(db: Database) -> None:
    inbound = _message(db, 3)
    case_id = _case(db, [inbound], CaseState.DECIDED, T0)
    with db.session() as session:
        session.add(
            OutboundMessage(
                key="k.rejection.0",
                case_id=case_id,
                kind="rejection",
                message_id="<r@example.gov.uk>",
                state=OutboxState.QUEUED,
                not_before=T0,
                created_at=T0,
            )
        )
    late = T0 + timedelta(days=400)
    assert purge_expired(db, late, POLICY).purged == 0 and _held(db, inbound)
    with db.session() as session:
        [reply] = session.exec(select(OutboundMessage)).all()
        reply.state, reply.sealed, reply.key_id = OutboxState.FILED, b"sealed", "k"
        session.add(reply)
    done = purge_expired(db, late, POLICY)
    assert (done.raw_messages, done.attachments, done.replies) == (1, 1, 1)
    with db.session() as session:
        [reply] = session.exec(select(OutboundMessage)).all()
    assert reply.sealed is None and reply.key_id is None and reply.purged_at == late


def test_a_period_of_nought_keeps_everything(db: Database) -> None:
    inbound = _message(db, 4)
    _case(db, [inbound], CaseState.CLOSED, T0)
    never = RetentionPolicy(closed_case_days=0, decided_case_days=0, quarantine_days=0)
    assert purge_expired(db, T0 + timedelta(days=5000), never).purged == 0
    assert _held(db, inbound)


def test_the_daemon_runs_it_at_most_every_ten_minutes(db: Database) -> None:
    inbound = _message(db, 5)
    _case(db, [inbound], CaseState.CLOSED, T0)
    retention = DaemonRetention(db, load(None))
    first = T0 + timedelta(days=10)
    assert retention.run_pass(first) is not None  # nothing due yet, but it looked
    assert retention.run_pass(first + DAEMON_EVERY - timedelta(seconds=1)) is None
    late = T0 + timedelta(days=91)
    report = retention.run_pass(late)
    assert report is not None and report.raw_messages == 1
