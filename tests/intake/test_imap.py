"""The IMAP adapter against a real Dovecot on loopback (IMAPS with a test CA, STARTTLS)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from intake.errors import MailboxAuthError, MailboxError
from intake.imap import ImapMailbox, ImapSettings
from intake.mailbox import Destination
from tests.intake import imap_tools
from tests.intake.mail import simple_message
from tests.servers import DOVECOT_PASSWORD, DOVECOT_TOKEN, DOVECOT_USER, Dovecot


def _settings(dovecot: Dovecot, **changes: object) -> ImapSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": dovecot.imaps_port,
        "username": DOVECOT_USER,
        "security": "tls",
        "ca_file": dovecot.ca_file,
    }
    values.update(changes)
    return ImapSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Iterator[ImapMailbox]:
    imap_tools.empty(dovecot)
    box = ImapMailbox(_settings(dovecot), lambda: DOVECOT_PASSWORD)
    yield box
    box.close()


def _message(n: int) -> bytes:
    return simple_message(message_id=f"<imap-test.{n}@police.scot>")


def test_list_fetch_and_move(dovecot: Dovecot, mailbox: ImapMailbox) -> None:
    imap_tools.append(dovecot, "INBOX", _message(1))
    imap_tools.append(dovecot, "INBOX", _message(2))
    snapshot = mailbox.snapshot()
    assert len(snapshot.uids) == 2
    fetched = mailbox.fetch(snapshot.uids[0])
    assert fetched is not None and b"<imap-test.1@police.scot>" in fetched.raw
    assert fetched.delivered_at is not None and fetched.delivered_at.tzinfo is not None
    mailbox.move([snapshot.uids[0]], Destination.PROCESSED)
    mailbox.move([snapshot.uids[1]], Destination.QUARANTINE)
    assert mailbox.snapshot().uids == ()
    assert imap_tools.count(dovecot, "Processed") == 1
    assert imap_tools.count(dovecot, "Quarantine") == 1


def _reads_the_inbox(settings: ImapSettings, secret: str) -> bool:
    box = ImapMailbox(settings, lambda: secret)
    try:
        return box.snapshot().uidvalidity > 0
    finally:
        box.close()


def test_starttls_on_the_plain_port(dovecot: Dovecot) -> None:
    settings = _settings(dovecot, port=dovecot.imap_port, security="starttls")
    assert _reads_the_inbox(settings, DOVECOT_PASSWORD)


def test_plain_imap_only_to_loopback(dovecot: Dovecot) -> None:
    with pytest.raises(MailboxError, match="only to a loopback host"):
        ImapMailbox(_settings(dovecot, host="imap.example.gov.uk", security="none"), lambda: "")
    settings = _settings(dovecot, port=dovecot.imap_port, security="none")
    assert _reads_the_inbox(settings, DOVECOT_PASSWORD)


def test_wrong_password_is_an_auth_error(dovecot: Dovecot) -> None:
    box = ImapMailbox(_settings(dovecot), lambda: "not-the-password")
    with pytest.raises(MailboxAuthError, match="login refused"):
        box.snapshot()


def test_an_unknown_certificate_is_refused(dovecot: Dovecot) -> None:
    box = ImapMailbox(_settings(dovecot, ca_file=None), lambda: DOVECOT_PASSWORD)
    with pytest.raises(MailboxError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        box.snapshot()


def test_idle_wakes_when_mail_arrives(dovecot: Dovecot, mailbox: ImapMailbox) -> None:
    mailbox.snapshot()
    timer = threading.Timer(1.0, imap_tools.append, (dovecot, "INBOX", _message(3)))
    timer.start()
    began = time.monotonic()
    mailbox.wait(30, lambda: False)
    waited = time.monotonic() - began
    timer.join()
    assert 0.5 < waited < 10, f"IDLE returned after {waited:.1f} s"
    assert len(mailbox.snapshot().uids) == 1


def test_mail_that_came_during_the_pass_ends_the_wait_at_once(
    dovecot: Dovecot, mailbox: ImapMailbox
) -> None:
    mailbox.snapshot()
    imap_tools.append(dovecot, "INBOX", _message(4))
    assert mailbox.fetch("999999") is None  # a command of the pass: the server's news goes by
    began = time.monotonic()
    mailbox.wait(30, lambda: time.monotonic() - began > 15)
    assert time.monotonic() - began < 5, "the wait did not see the message that came"


def test_idle_stops_when_asked(mailbox: ImapMailbox) -> None:
    mailbox.snapshot()
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    began = time.monotonic()
    mailbox.wait(30, stop.is_set)
    assert time.monotonic() - began < 5


def test_a_message_deleted_by_someone_else(dovecot: Dovecot, mailbox: ImapMailbox) -> None:
    imap_tools.append(dovecot, "INBOX", _message(4))
    [uid] = mailbox.snapshot().uids
    with imap_tools.client(dovecot) as colleague:
        colleague.select_folder("INBOX")
        colleague.delete_messages([int(uid)])
        colleague.expunge()
    assert mailbox.fetch(uid) is None
    mailbox.move([uid], Destination.PROCESSED)  # nothing to move: no error
    assert imap_tools.count(dovecot, "Processed") == 0


def test_a_dropped_connection_then_reconnect(dovecot: Dovecot, mailbox: ImapMailbox) -> None:
    imap_tools.append(dovecot, "INBOX", _message(5))
    mailbox.snapshot()
    dovecot.kick()
    with pytest.raises(MailboxError):
        for _ in range(3):  # the kick may take a moment to reach our socket
            mailbox.snapshot()
            time.sleep(0.2)
    assert len(mailbox.snapshot().uids) == 1  # the next call connects again


def test_a_server_restart_then_reconnect(dovecot: Dovecot, mailbox: ImapMailbox) -> None:
    imap_tools.append(dovecot, "INBOX", _message(6))
    mailbox.snapshot()
    dovecot.restart()
    # The old connection may fail once (MailboxError, never another exception); the adapter
    # then connects afresh.
    for _attempt in range(3):
        try:
            assert len(mailbox.snapshot().uids) == 1
            break
        except MailboxError:
            continue
    else:
        pytest.fail("no reconnection after the server restarted")


def test_uidvalidity_is_reported(dovecot: Dovecot, mailbox: ImapMailbox) -> None:
    before = mailbox.snapshot().uidvalidity
    dovecot.set_uidvalidity("INBOX", before + 1000)
    mailbox.close()
    assert mailbox.snapshot().uidvalidity == before + 1000


def test_xoauth2_login(dovecot: Dovecot) -> None:
    """SASL XOAUTH2 with a bearer token; Dovecot checks it with the (loopback) token service."""
    assert _reads_the_inbox(_settings(dovecot, auth="xoauth2"), DOVECOT_TOKEN)


def test_a_refused_token_is_an_auth_error(dovecot: Dovecot) -> None:
    box = ImapMailbox(_settings(dovecot, auth="xoauth2"), lambda: "expired-token")
    with pytest.raises(MailboxAuthError):
        box.snapshot()
