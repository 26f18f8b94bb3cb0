"""Alert episodes and their e-mails, on SQLite and a real PostgreSQL: raised once however many
daemons look at once, one e-mail per episode (composed, sealed, in the outbox under its key),
cleared on recovery with a "resolved" e-mail, raised again for a new episode; outbox failures
told once per batch, and never about an alert."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from records import health, leases, outbox
from records.database import Database
from records.sealing import Sealer
from records.tables import AlertState, OutboundMessage, OutboxState
from responders.alertrules import AlertLimits
from responders.alerts import AlertSettings, AlertWatch
from responders.compose import Sender

ZONE = ZoneInfo("Europe/London")
SENDER = Sender(
    from_header="MAPPA Lanarkshire <mappa.lanarkshire@southlanarkshire.gov.uk>",
    message_id_domain="southlanarkshire.gov.uk",
    marking="OFFICIAL-SENSITIVE",
    allowed_domains=("police.scot", "southlanarkshire.gov.uk"),
)
OPERATOR = "mappa.ops@southlanarkshire.gov.uk"
MAILBOX = "imap://mappa.lanarkshire@imap.example.gov.uk:993"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DAEMONS = 4


def _watch(db: Database, sealer: Sealer, to: str = OPERATOR) -> AlertWatch:
    settings = AlertSettings(
        to=to,
        limits=AlertLimits(stale_after=timedelta(minutes=15), silent_working_hours=0),
        working_hours=lambda start, end: 0.0,
        zone=ZONE,
    )
    return AlertWatch(
        db,
        settings,
        SENDER,
        sealer,
        [MAILBOX],
        clock=lambda: NOW,
        real_clock=lambda: NOW,
        every=0,  # every pass judged: the test says when
    )


def _all_at_once(watches: list[AlertWatch]) -> None:
    """Every daemon's pass at the same moment, on threads of their own."""
    start = threading.Barrier(len(watches))

    def run(watch: AlertWatch) -> None:
        start.wait()
        assert watch.run_pass().failed == ""

    threads = [threading.Thread(target=run, args=(w,)) for w in watches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _episodes(db: Database) -> list[tuple[str, int, bool]]:
    with db.session() as session:
        rows = session.exec(select(AlertState).order_by(col(AlertState.id))).all()
        return [(r.kind, r.episode, r.cleared_at is None) for r in rows]


def _mails(db: Database, sealer: Sealer) -> list[tuple[str, EmailMessage]]:
    """The alert e-mails in the outbox: (key, the composed message)."""
    with db.session() as session:
        rows = session.exec(
            select(OutboundMessage)
            .where(OutboundMessage.kind == "alert")
            .order_by(col(OutboundMessage.id))
        ).all()
        found = []
        for row in rows:
            parsed = message_from_bytes(outbox.composed_bytes(row, sealer), policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append((row.key, parsed))
        return found


def _text(message: EmailMessage) -> str:
    return str(message.get_content()).replace("\r\n", "\n")


def _read_at(db: Database, when: datetime) -> None:
    with db.session() as session:
        assert leases.acquire(session, MAILBOX, "reader", when, timedelta(minutes=5))
        leases.mark_read(session, MAILBOX, when)


def _refused_at(db: Database, when: datetime) -> None:
    with db.session() as session:
        health.note_mailbox_failure(session, MAILBOX, health.LOGIN_REFUSED, when)


def test_a_refused_login_is_one_episode_and_one_email_however_many_daemons(
    db: Database, sealer: Sealer
) -> None:
    _read_at(db, NOW - timedelta(hours=1))
    _refused_at(db, NOW - timedelta(minutes=1))
    watches = [_watch(db, sealer) for _ in range(DAEMONS)]
    for _ in range(3):
        _all_at_once(watches)
    assert _episodes(db) == [("login_refused", 1, True)]
    [(key, message)] = _mails(db, sealer)
    assert key.startswith("alert.login_refused.")
    assert message["To"] == OPERATOR
    assert message["From"] == SENDER.from_header
    assert message["Subject"] == "OFFICIAL-SENSITIVE: mappa-intake alert: mailbox login refused"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-MAPPA-Intake-Loop"] == "alert"
    assert "[MAPPA-" not in message["Subject"]  # it belongs to no case
    text = _text(message)
    assert text.startswith("OFFICIAL-SENSITIVE\n") and text.rstrip().endswith("OFFICIAL-SENSITIVE")
    assert MAILBOX in text and "episode 1" in text and "refused" in text

    # A good read ends it, with one "resolved" e-mail; a new refusal is a new episode.
    _read_at(db, NOW)
    _all_at_once(watches)
    assert _episodes(db) == [("login_refused", 1, False)]
    _refused_at(db, NOW + timedelta(seconds=1))
    _all_at_once(watches)
    assert _episodes(db) == [("login_refused", 1, False), ("login_refused", 2, True)]
    subjects = [m["Subject"] for _, m in _mails(db, sealer)]
    assert subjects == [
        "OFFICIAL-SENSITIVE: mappa-intake alert: mailbox login refused",
        "OFFICIAL-SENSITIVE: mappa-intake resolved: mailbox login accepted again",
        "OFFICIAL-SENSITIVE: mappa-intake alert: mailbox login refused",
    ]
    assert "episode 2" in _text(_mails(db, sealer)[2][1])


def _failed_reply(db: Database, n: int, kind: str = "acknowledgement") -> int:
    with db.session() as session:
        row = outbox.queue(
            session,
            key=f"test-{n}.{kind}.0",
            kind=kind,
            recipient="a.officer@police.scot",
            now=NOW,
            message_id_domain=SENDER.message_id_domain,
        )
        assert row.id is not None
        outbox.finish(session, row.id, OutboxState.FAILED, "550 5.1.1 no such user", NOW)
        return row.id


def test_outbox_failures_are_told_once_per_batch_and_never_about_an_alert(
    db: Database, sealer: Sealer
) -> None:
    first = [_failed_reply(db, n) for n in (1, 2)]
    watches = [_watch(db, sealer) for _ in range(DAEMONS)]
    _all_at_once(watches)
    _all_at_once(watches)
    assert _episodes(db) == [("outbox_failed", 1, False)]  # an event: raised and cleared
    [(_key, message)] = _mails(db, sealer)
    assert message["Subject"] == "OFFICIAL-SENSITIVE: mappa-intake alert: messages not sent"
    text = _text(message)
    for row_id in first:
        assert f"outbox {row_id}: acknowledgement, no case, failed" in text
    assert "a.officer" not in text and "550" not in text  # references only

    # The alert itself cannot be sent: no alert about it (that would go on for ever).
    with db.session() as session:
        alert = session.exec(select(OutboundMessage).where(OutboundMessage.kind == "alert")).one()
        assert alert.id is not None
        outbox.finish(session, alert.id, OutboxState.FAILED, "550 mailbox full", NOW)
    _all_at_once(watches)
    assert len(_mails(db, sealer)) == 1

    later = _failed_reply(db, 3)
    _all_at_once(watches)
    assert _episodes(db) == [("outbox_failed", 1, False), ("outbox_failed", 2, False)]
    assert f"outbox {later}:" in _text(_mails(db, sealer)[1][1])
    assert f"outbox {first[0]}:" not in _text(_mails(db, sealer)[1][1])


def test_without_an_operator_address_episodes_are_kept_and_nothing_is_queued(
    db: Database, sealer: Sealer
) -> None:
    _refused_at(db, NOW - timedelta(minutes=1))
    _failed_reply(db, 1)
    _watch(db, sealer, to="").run_pass()
    assert [k for k, _, _ in _episodes(db)] == ["login_refused", "outbox_failed"]
    assert _mails(db, sealer) == []


def test_a_pass_within_its_interval_does_nothing(db: Database, sealer: Sealer) -> None:
    watch = AlertWatch(
        db,
        _watch(db, sealer).settings,
        SENDER,
        sealer,
        [MAILBOX],
        clock=lambda: NOW,
        real_clock=lambda: NOW,
    )
    watch.run_pass()
    _refused_at(db, NOW)
    assert watch.run_pass().raised == []  # within PASS_SECONDS: not judged
    assert _episodes(db) == []


def test_a_pass_that_fails_never_raises(tmp_path: Path, sealer: Sealer) -> None:
    unmigrated = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        report = _watch(unmigrated, sealer).run_pass()
    finally:
        unmigrated.dispose()
    assert report.failed == "OperationalError"
