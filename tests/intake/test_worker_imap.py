"""The intake worker on a real Dovecot: reconciling the ledger with the mailbox after a
failure, a renumbered folder (UIDVALIDITY), mail deleted by someone else, and the daemon's
stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.runtime import make_clock, open_runtime
from app.settings import load
from app.wiring import mailbox_from
from intake.errors import MailboxError
from intake.imap import ImapMailbox
from intake.mailbox import Destination
from intake.worker import IntakeWorker
from tests.intake import imap_tools
from tests.intake.mail import fixture_message, with_headers
from tests.intake.site import Site
from tests.servers import Dovecot

pytestmark = pytest.mark.slow


def _message(n: int) -> bytes:
    return with_headers(
        fixture_message("notification-in-text-body.eml"), Message_ID=f"<worker.{n}@police.scot>"
    )


@pytest.fixture
def site(dovecot: Dovecot, tmp_path: Path, database_url: str) -> Iterator[Site]:
    imap_tools.empty(dovecot)
    yield Site(tmp_path / "site", database_url, dovecot)


def _worker(site: Site) -> IntakeWorker:
    settings = load(site.config)
    runtime = open_runtime(settings, site.env(), make_clock(None))
    return IntakeWorker(mailbox_from(settings, site.env()), runtime.processor)


def _ledger(site: Site) -> list[tuple[str, str, int]]:
    engine = sa.create_engine(site.database_url)
    with engine.connect() as db:
        rows = db.execute(
            sa.text("SELECT message_id, state, uidvalidity FROM inbound_message ORDER BY id")
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_failed_move_then_a_renumbered_folder(site: Site, dovecot: Dovecot) -> None:
    for n in range(3):
        imap_tools.append(dovecot, "INBOX", _message(n))
    worker = _worker(site)
    mailbox = worker.mailbox
    assert isinstance(mailbox, ImapMailbox)
    real_move = mailbox.move

    def move_fails(uids: object, destination: Destination) -> None:
        raise MailboxError("connection dropped (test)")

    mailbox.move = move_fails  # type: ignore[method-assign]
    with pytest.raises(MailboxError):
        worker.run_pass()
    mailbox.move = real_move  # type: ignore[method-assign]
    # The first message is processed in the ledger but still in the inbox. The server now
    # renumbers the folder: every UID changes meaning.
    old = mailbox.snapshot().uidvalidity
    dovecot.set_uidvalidity("INBOX", old + 5000)
    mailbox.close()
    report = worker.run_pass()
    assert not report.busy
    ledger = _ledger(site)
    assert sorted(m for m, _, _ in ledger) == [f"<worker.{n}@police.scot>" for n in range(3)]
    assert {state for _, state, _ in ledger} == {"processed"}
    assert ledger[0][2] == old + 5000  # followed to its new place, not claimed again
    assert imap_tools.count(dovecot, "INBOX") == 0
    assert imap_tools.count(dovecot, "Processed") == 3
    worker.release_lease()


def test_a_claimed_message_deleted_from_the_mailbox_is_still_processed(
    site: Site, dovecot: Dovecot
) -> None:
    imap_tools.append(dovecot, "INBOX", _message(7))
    worker = _worker(site)
    original = worker.processor.take
    # Stop right after the claim, as a kill would.
    worker.processor.take = lambda *a, **k: None  # type: ignore[method-assign]
    worker.run_pass()
    assert [s for _, s, _ in _ledger(site)] == ["claimed"]
    with imap_tools.client(dovecot) as colleague:
        colleague.select_folder("INBOX")
        colleague.delete_messages(colleague.search(["ALL"]))
        colleague.expunge()
    worker.processor.take = original  # type: ignore[method-assign]
    worker.run_pass()
    assert [s for _, s, _ in _ledger(site)] == ["processed"]
    worker.release_lease()


def test_the_daemon_stops_on_sigterm_after_idle(site: Site, dovecot: Dovecot) -> None:
    daemon = site.start_daemon(stderr=subprocess.PIPE)
    try:
        imap_tools.append(dovecot, "INBOX", _message(9))
        deadline = time.monotonic() + 60
        while not site.cli("cases", "--json").json_lines():
            if time.monotonic() > deadline:
                daemon.kill()
                assert daemon.stderr is not None
                raise AssertionError(f"no case within a minute: {daemon.stderr.read()[-3000:]!r}")
            time.sleep(0.5)
        os.kill(daemon.pid, signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.stderr is not None
    assert b"stop requested" in daemon.stderr.read()


def test_the_daemon_logs_in_with_an_oauth2_token(site: Site, dovecot: Dovecot) -> None:
    site.settings = {"mailbox": {"auth": "xoauth2"}}
    site.write_config()
    imap_tools.append(dovecot, "INBOX", _message(11))
    run = site.run_once()
    assert run.code == 0, run.stderr
    assert len(site.cli("cases", "--json").json_lines()) == 1
