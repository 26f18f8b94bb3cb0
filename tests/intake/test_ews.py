"""The EWS mailbox adapter against a STAND-IN for an on-premises Exchange Server's EWS endpoint
on loopback HTTPS: no Exchange Server can run here, so the peer answers with RECORDED
response shapes (tests/intake/recordings/ews/, tests/intake/ews_server.py), fictional data.
The adapter, exchangelib and requests are the real ones; so are the worker, the database and
the processing in the end-to-end test. NTLM is not exercised: the stand-in knows Basic and
Bearer logins only."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.runtime import make_clock, open_runtime
from app.settings import load
from intake import ews as ews_module
from intake.errors import MailboxAuthError, MailboxError
from intake.ews import EwsMailbox
from intake.mailbox import Destination, FolderSnapshot
from intake.worker import IntakeWorker
from records.cursors import DatabaseCursor
from tests.intake.ews_server import EWS_PASSWORD, MSGFLAG_UNSENT, Logged, ews_server
from tests.intake.mail import fixture_message, simple_message, with_headers
from tests.intake.rig_ews import EwsRig, FileCursor, ews_rig
from tests.intake.site import Site


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[EwsRig]:
    with ews_rig(tmp_path) as made:
        yield made


def _basic(rig: EwsRig, password: str = EWS_PASSWORD, **changes: object) -> EwsMailbox:
    """An adapter logging in with Basic (a password), the rig's cursor file."""
    settings = rig.settings(**{"auth": "basic", **changes})
    box = EwsMailbox(settings, lambda: password, rig.cursor)
    rig._made.append(box)
    return box


def _oauth(rig: EwsRig, **changes: object) -> EwsMailbox:
    box = EwsMailbox(rig.settings(**changes), lambda: rig.token, rig.cursor, rig.refused)
    rig._made.append(box)
    return box


def _message(n: int) -> bytes:
    return simple_message(message_id=f"<ews-test.{n}@police.scot>")


def _deliver(rig: EwsRig, *numbers: int) -> list[str]:
    return [rig.stand_in.deliver(_message(n)) for n in numbers]


def _syncs(rig: EwsRig) -> list[Logged]:
    return [e for e in rig.stand_in.log if e.operation == "SyncFolderItems" and e.status == 200]


# -- listing, fetching, moving ---------------------------------------------------------------


def test_new_mail_is_listed_fetched_and_moved(rig: EwsRig) -> None:
    box = _basic(rig)
    assert box.snapshot().uids == ()
    first, second = _deliver(rig, 1, 2)
    snapshot = box.snapshot()
    assert snapshot == FolderSnapshot(1, (first, second))  # oldest first
    assert len(first) == 152  # an Exchange-sized id fits the ledger's 200 characters
    fetched = box.fetch(first)
    assert fetched is not None and fetched.raw == _message(1)
    assert fetched.delivered_at == rig.stand_in.items[first].received
    assert fetched.delivered_at is not None and fetched.delivered_at.tzinfo is not None
    box.move([first], Destination.PROCESSED)
    box.move([second], Destination.QUARANTINE)
    assert box.snapshot().uids == ()
    assert (rig.count("inbox"), rig.count("processed"), rig.count("quarantine")) == (0, 1, 1)
    # Processed and Quarantine were made under Top of Information Store, as Outlook shows them.
    top = rig.stand_in.distinguished("msgfolderroot").id
    assert rig.stand_in.folder_named("Processed").parent == top
    assert rig.stand_in.folder_named("Quarantine").parent == top
    # The moves were one MoveItem each, after a GetItem that saw the messages still there.
    assert rig.stand_in.operations().count("MoveItem") == 2


def test_a_folder_below_the_inbox_is_watched(rig: EwsRig) -> None:
    rig.stand_in.folder_named("MAPPA", create=True).parent = rig.stand_in.distinguished("inbox").id
    rig.stand_in.deliver(_message(3), folder="MAPPA")
    _deliver(rig, 4)  # in the Inbox itself: not ours
    box = _basic(rig, folder="Inbox/MAPPA")
    [uid] = box.snapshot().uids
    fetched = box.fetch(uid)
    assert fetched is not None and b"<ews-test.3@police.scot>" in fetched.raw
    with pytest.raises(
        MailboxError, match=r"ErrorFolderNotFound: No subfolder with name 'No such folder'"
    ):
        _basic(rig, folder="Inbox/No such folder").snapshot()


# -- the sync state ----------------------------------------------------------------------------


def test_a_restart_goes_on_from_the_sync_state(rig: EwsRig) -> None:
    uids = _deliver(rig, 10, 11, 12)
    box = _basic(rig)
    assert box.snapshot().uids == tuple(uids)
    box.move([uids[0]], Destination.PROCESSED)
    # Killed here: no close. A new process, a new adapter, the same cursor store.
    [newer] = _deliver(rig, 13)
    rig.stand_in.clear_log()
    restarted = _basic(rig)
    assert restarted.snapshot().uids == (uids[1], uids[2], newer)
    syncs = _syncs(rig)
    assert syncs and all(s.sync_state for s in syncs), "the folder was listed again in full"
    # What is still there stays listed with no change reported for it.
    rig.stand_in.clear_log()
    assert restarted.snapshot().uids == (uids[1], uids[2], newer)
    cursor = json.loads(rig.cursor.path.read_text())
    assert list(cursor["ids"]) == [uids[1], uids[2], newer]
    assert cursor["position"].startswith("H4sI")  # the server's blob, kept as it came


def test_an_unreadable_cursor_costs_one_full_listing(rig: EwsRig) -> None:
    uids = _deliver(rig, 14, 15)
    rig.cursor.save("{not json")
    box = _basic(rig)
    assert box.snapshot().uids == tuple(uids)
    assert [s.sync_state for s in _syncs(rig)] == [False]
    assert json.loads(rig.cursor.path.read_text())["ids"].keys() == set(uids)


@pytest.mark.parametrize("with_empty_state", [False, True], ids=["bare", "empty-state"])
def test_a_refused_sync_state_means_a_full_listing(rig: EwsRig, with_empty_state: bool) -> None:
    uids = _deliver(rig, 20, 21)
    box = _basic(rig)
    assert box.snapshot().uids == tuple(uids)
    rig.stand_in.reject_next_sync_state(with_empty_state=with_empty_state)
    [third] = _deliver(rig, 22)
    rig.stand_in.clear_log()
    # Nothing lost, nothing twice: the same ids as before, and the new one.
    assert box.snapshot().uids == (*uids, third)
    syncs = [(e.sync_state, e.status) for e in rig.stand_in.log if e.operation == "SyncFolderItems"]
    assert syncs == [(True, 200), (False, 200)]
    # The new sync state is kept: the next look is a change list again.
    rig.stand_in.clear_log()
    assert box.snapshot().uids == (*uids, third)
    assert [s.sync_state for s in _syncs(rig)] == [True]


def test_sync_pages_are_followed_to_the_last(rig: EwsRig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ews_module, "SYNC_PAGE", 2)
    uids = _deliver(rig, *range(30, 35))
    box = _basic(rig)
    assert box.snapshot().uids == tuple(uids)
    assert [s.sync_state for s in _syncs(rig)] == [False, True, True]


# -- someone else in the mailbox ---------------------------------------------------------------


def test_a_colleagues_move_and_delete_are_passed_over(rig: EwsRig) -> None:
    moved, deleted, kept = _deliver(rig, 40, 41, 42)
    box = _basic(rig)
    assert box.snapshot().uids == (moved, deleted, kept)
    rig.stand_in.colleague_move("<ews-test.40@police.scot>", "Dealt with")
    rig.stand_in.colleague_delete("<ews-test.41@police.scot>")
    assert box.fetch(moved) is None
    assert box.fetch(deleted) is None
    box.move([moved, deleted, kept], Destination.PROCESSED)
    assert (rig.count("inbox"), rig.count("processed")) == (0, 1)
    assert rig.stand_in.count("Dealt with") == 1 and rig.stand_in.count("Deleted Items") == 1
    assert box.snapshot().uids == ()


def test_a_message_whose_old_id_still_resolves_elsewhere_is_not_brought_back(
    rig: EwsRig,
) -> None:
    """Some servers let an id from before a move still name the item in its new folder: the
    adapter looks at the item's folder, not only whether the id resolves."""
    [uid] = _deliver(rig, 43)
    box = _basic(rig)
    box.snapshot()
    rig.stand_in.colleague_move("<ews-test.43@police.scot>", "Dealt with", keep_id=True)
    assert box.fetch(uid) is None
    box.move([uid], Destination.QUARANTINE)
    assert rig.stand_in.count("Dealt with") == 1
    assert rig.count("quarantine") == 0


# -- throttling, logins, TLS -------------------------------------------------------------------


def test_server_busy_is_waited_out_as_asked(rig: EwsRig) -> None:
    _deliver(rig, 50)
    box = _basic(rig)
    box.connect()
    rig.stand_in.busy(2, back_off_ms=400)
    rig.stand_in.clear_log()
    began = time.monotonic()
    assert len(box.snapshot().uids) == 1
    assert time.monotonic() - began >= 0.8  # twice BackOffMilliseconds
    assert [e.status for e in rig.stand_in.log] == [500, 500, 200]


def test_a_long_or_endless_busy_spell_is_an_error(rig: EwsRig) -> None:
    box = _basic(rig)
    box.connect()
    rig.stand_in.busy(1, back_off_ms=300_000)  # five minutes: not waited out inside a call
    began = time.monotonic()
    with pytest.raises(MailboxError, match=r"throttled \(ErrorServerBusy, asked to wait 300"):
        box.snapshot()
    assert time.monotonic() - began < 5
    rig.stand_in.busy(ews_module.MAX_BUSY_TRIES + 1, back_off_ms=50)
    with pytest.raises(MailboxError, match="throttled"):
        box.snapshot()
    assert box.snapshot().uids == ()  # and the next call goes through


def test_an_expired_token_is_renewed_once(rig: EwsRig) -> None:
    _deliver(rig, 60)
    box = _oauth(rig)
    assert len(box.snapshot().uids) == 1
    rig.stand_in.expire_tokens()
    rig.stand_in.clear_log()
    assert len(box.snapshot().uids) == 1
    assert rig.refusals == 1
    assert rig.stand_in.log[0].status == 401
    assert {e.auth for e in rig.stand_in.log} == {"bearer"}
    # Refused again with a new token too: an auth error, the token source told once more.
    rig.stand_in.refuse_logins()
    rig.stand_in.clear_log()
    with pytest.raises(MailboxAuthError, match="login refused"):
        box.snapshot()
    assert rig.refusals == 2
    assert [e.status for e in rig.stand_in.log] == [401, 401]


def test_a_wrong_password_is_an_auth_error_tried_once(rig: EwsRig) -> None:
    box = _basic(rig, password="not-the-password")
    with pytest.raises(MailboxAuthError, match="login refused") as raised:
        box.snapshot()
    assert "not-the-password" not in str(raised.value)
    # The same password is not tried twice in a row: a lockout policy counts each try.
    assert [e.status for e in rig.stand_in.log] == [401]


def test_a_password_changed_after_a_refusal_is_tried(rig: EwsRig) -> None:
    passwords = ["an-old-password"]

    def refused() -> None:
        passwords.append(EWS_PASSWORD)  # the operator set the new one meanwhile

    box = EwsMailbox(rig.settings(auth="basic"), lambda: passwords[-1], rig.cursor, refused)
    assert box.snapshot().uids == ()
    box.close()


def test_ntlm_never_sends_the_password_in_the_clear(rig: EwsRig) -> None:
    """The stand-in offers no NTLM (so NTLM logins are not tested here); what can be shown is
    that an NTLM client offered only Basic gives up, one refusal, no password sent."""
    box = _basic(rig, auth="ntlm", username="SLC\\svc-mappa-intake", version="Exchange2016")
    with pytest.raises(MailboxAuthError, match="login refused"):
        box.snapshot()
    assert [(e.status, e.auth) for e in rig.stand_in.log] == [(401, "none")]


def test_the_service_account_may_impersonate(rig: EwsRig) -> None:
    _basic(rig, impersonation=True, version="Exchange2016").snapshot()
    impersonating = {e.impersonating for e in rig.stand_in.log}
    assert impersonating == {"mappa.lanarkshire@southlanarkshire.gov.uk"}
    rig.stand_in.clear_log()
    _basic(rig, version="Exchange2016").snapshot()  # FullAccess: the account's own rights
    assert {e.impersonating for e in rig.stand_in.log} == {None}


def test_a_pinned_version_is_not_asked_for(rig: EwsRig) -> None:
    _basic(rig, version="Exchange2016").snapshot()
    assert "ConvertId" not in rig.stand_in.operations()
    rig.stand_in.clear_log()
    _basic(rig).snapshot()  # not pinned: exchangelib asks the server first
    assert rig.stand_in.operations()[0] == "ConvertId"


def test_an_unknown_certificate_is_refused(rig: EwsRig) -> None:
    box = _basic(rig, ca_file=None)
    with pytest.raises(MailboxError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        box.snapshot()


def test_plain_http_only_to_loopback(tmp_path: Path, rig: EwsRig) -> None:
    with pytest.raises(MailboxError, match="only to a loopback host"):
        _basic(rig, url="http://mail.example.gov.uk/EWS/Exchange.asmx", ca_file=None)
    with pytest.raises(MailboxError, match="oauth needs https"):
        _oauth(rig, url="http://127.0.0.1/EWS/Exchange.asmx", ca_file=None)
    with ews_server(tmp_path / "plain", tls=False) as plain:
        settings = rig.settings(url=plain.url, ca_file=None, auth="basic")
        box = EwsMailbox(settings, lambda: EWS_PASSWORD, FileCursor(tmp_path / "plain.json"))
        assert box.snapshot().uids == ()
        box.close()


def test_settings_are_checked_at_start(rig: EwsRig, tmp_path: Path) -> None:
    for changes, problem in (
        ({"auth": "kerberos"}, "not ntlm, basic or oauth"),
        ({"version": "Exchange2007"}, "version 'Exchange2007'"),
        ({"ca_file": tmp_path / "missing.pem"}, "is not a file"),
        ({"primary_smtp_address": "mappa"}, "not an e-mail address"),
        ({"url": "ftp://mail.example.gov.uk/EWS/Exchange.asmx"}, "not an https://"),
        ({"poll_seconds": 0}, "not a positive number"),
    ):
        with pytest.raises(MailboxError, match=problem):
            _basic(rig, **changes)


def test_errors_name_the_mailbox_never_the_secret_or_the_mail(
    rig: EwsRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="intake")
    caplog.set_level(logging.INFO, logger="exchangelib")
    secret_body = (
        b"Subject: OFFICIAL-SENSITIVE\r\nMessage-ID: <x@police.scot>\r\n\r\nDOB 01/02/1980\r\n"
    )
    rig.stand_in.deliver(secret_body)
    box = _basic(rig)
    [uid] = box.snapshot().uids
    box.fetch(uid)
    rig.stand_in.busy(5, back_off_ms=10)
    with pytest.raises(MailboxError) as raised:
        box.fetch(uid)
    message = str(raised.value)
    assert message.startswith("mailbox ews://mappa.lanarkshire@southlanarkshire.gov.uk@127.0.0.1")
    assert "cannot fetch" in message
    logged = caplog.text + message
    for leak in (EWS_PASSWORD, "DOB 01/02/1980", "OFFICIAL-SENSITIVE"):
        assert leak not in logged


def test_exchangelib_keeps_request_bodies_out_of_the_logs(
    rig: EwsRig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """exchangelib logs an unexpected failure of a request at ERROR with the request's XML:
    here the CA file vanishes after start (requests then raises OSError mid-request)."""
    ca_file = tmp_path / "ca-copy.pem"
    assert rig.server.ca_file is not None
    ca_file.write_bytes(rig.server.ca_file.read_bytes())
    box = _basic(rig, ca_file=ca_file, version="Exchange2016")
    ca_file.unlink()
    caplog.set_level(logging.ERROR, logger="exchangelib")
    with pytest.raises(MailboxError, match="cannot list the folder: OSError"):
        box.snapshot()
    [record] = [r for r in caplog.records if r.name == "exchangelib.util"]
    assert record.getMessage().endswith("(request details withheld)")
    assert "Request XML" not in caplog.text and "mappa.lanarkshire" not in caplog.text


def test_an_unreachable_server_is_a_mailbox_error(rig: EwsRig, tmp_path: Path) -> None:
    with ews_server(tmp_path / "gone") as gone:
        settings = rig.settings(url=gone.url, ca_file=gone.ca_file, auth="basic")
        box = EwsMailbox(settings, lambda: EWS_PASSWORD, FileCursor(tmp_path / "gone.json"))
        assert box.snapshot().uids == ()
        gone.stop()
        began = time.monotonic()
        with pytest.raises(MailboxError, match="cannot list the folder: ErrorTimeoutExpired"):
            for _ in range(2):  # the kept-alive connection may fail first, then the new one
                box.snapshot()
        assert time.monotonic() - began < 10
        box.close()


# -- the Sent folder ---------------------------------------------------------------------------


def test_keep_copy_files_one_read_sent_copy(rig: EwsRig) -> None:
    box = _basic(rig)
    raw = simple_message(message_id="<reply.1@southlanarkshire.gov.uk>")
    box.keep_copy("Sent", raw, "<reply.1@southlanarkshire.gov.uk>", look_first=False)
    # Stopped after the CreateItem, the sender tries again, looking first: no second copy.
    box.keep_copy("Sent", raw, "<reply.1@southlanarkshire.gov.uk>", look_first=True)
    [copy] = rig.stand_in.messages("sentitems")
    assert copy.raw == raw
    assert copy.is_read and copy.flags == ews_module.MSGFLAG_READ  # read, sent: not a draft
    assert not copy.flags & MSGFLAG_UNSENT
    assert rig.stand_in.operations().count("CreateItem") == 1
    assert rig.stand_in.operations().count("FindItem") == 1
    # Another folder by name is made under Top of Information Store.
    box.keep_copy("Replies sent", raw, "<reply.1@southlanarkshire.gov.uk>", look_first=True)
    assert rig.stand_in.count("Replies sent") == 1


# -- waiting -----------------------------------------------------------------------------------


def test_wait_returns_when_mail_arrives(rig: EwsRig) -> None:
    box = _basic(rig, poll_seconds=0.2)
    box.snapshot()
    timer = threading.Timer(0.7, rig.stand_in.deliver, (_message(70),))
    timer.start()
    began = time.monotonic()
    box.wait(20, lambda: False)
    waited = time.monotonic() - began
    timer.join()
    assert 0.5 < waited < 5, f"the wait returned after {waited:.1f} s"
    assert len(box.snapshot().uids) == 1


def test_mail_that_came_during_the_pass_ends_the_wait_at_once(rig: EwsRig) -> None:
    box = _basic(rig, poll_seconds=30)
    box.snapshot()
    _deliver(rig, 71)
    began = time.monotonic()
    box.wait(20, lambda: time.monotonic() - began > 10)
    assert time.monotonic() - began < 3


def test_wait_stops_when_asked(rig: EwsRig) -> None:
    box = _basic(rig, poll_seconds=30)
    box.snapshot()
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    began = time.monotonic()
    box.wait(30, stop.is_set)
    assert time.monotonic() - began < 2.5


# -- the worker, end to end --------------------------------------------------------------------


def _ledger(database_url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(database_url)
    with engine.connect() as db:
        rows = db.execute(
            sa.text("SELECT message_id, state FROM inbound_message ORDER BY id")
        ).all()
    engine.dispose()
    return [(str(m), str(s)) for m, s in rows]


@pytest.mark.slow
def test_the_worker_takes_each_message_once_across_a_restart(rig: EwsRig, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'mappa.db'}"
    site = Site(tmp_path / "site", database_url)
    runtime = open_runtime(load(site.config), site.env(), make_clock(None))
    form = fixture_message("notification-in-text-body.eml")
    rig.stand_in.deliver(with_headers(form, Message_ID="<ews.worker.1@police.scot>"))
    rig.stand_in.deliver(
        simple_message(sender="someone@example.com", message_id="<ews.worker.x@example.com>")
    )

    def worker() -> IntakeWorker:
        settings = rig.settings()
        name = EwsMailbox(settings, lambda: rig.token, rig.cursor).name
        cursor = DatabaseCursor(runtime.db, name, settings.folder)
        box = EwsMailbox(settings, lambda: rig.token, cursor, rig.refused)
        rig._made.append(box)
        return IntakeWorker(box, runtime.processor)

    first = worker()
    report = first.run_pass()
    first.release_lease()  # the process stops; the next one takes the mailbox at once
    assert (report.claimed, report.processed, report.quarantined) == (2, 1, 1)
    rig.stand_in.deliver(with_headers(form, Message_ID="<ews.worker.2@police.scot>"))
    rig.stand_in.clear_log()
    second = worker()
    report = second.run_pass()
    second.release_lease()
    assert (report.claimed, report.processed) == (1, 1)
    assert all(s.sync_state for s in _syncs(rig)), "the restart listed the folder again in full"
    assert IntakeWorker(worker().mailbox, runtime.processor).run_pass().claimed == 0
    assert (rig.count("inbox"), rig.count("processed"), rig.count("quarantine")) == (0, 2, 1)
    assert sorted(_ledger(database_url)) == [
        ("<ews.worker.1@police.scot>", "processed"),
        ("<ews.worker.2@police.scot>", "processed"),
        ("<ews.worker.x@example.com>", "quarantined"),
    ]
    runtime.db.dispose()
