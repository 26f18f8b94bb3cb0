"""The Maildir inbox's wait: mail delivered while a pass ran ends the next wait at once."""

from __future__ import annotations

import time
from pathlib import Path

from intake.maildir import MaildirMailbox, deliver
from tests.intake.mail import simple_message


def test_mail_that_came_during_the_pass_ends_the_wait_at_once(tmp_path: Path) -> None:
    mailbox = MaildirMailbox(tmp_path / "inbox")
    mailbox.connect()
    deliver(tmp_path / "inbox", simple_message(message_id="<early@police.scot>"))
    mailbox.snapshot()
    deliver(tmp_path / "inbox", simple_message(message_id="<during@police.scot>"))
    began = time.monotonic()
    mailbox.wait(30, lambda: time.monotonic() - began > 15)
    assert time.monotonic() - began < 5, "the wait did not see the message that came"


def test_nothing_new_waits_for_its_time(tmp_path: Path) -> None:
    mailbox = MaildirMailbox(tmp_path / "inbox")
    mailbox.connect()
    deliver(tmp_path / "inbox", simple_message())
    mailbox.snapshot()  # the message stays in new/ (not yet moved): it is not news
    began = time.monotonic()
    mailbox.wait(1.5, lambda: False)
    assert time.monotonic() - began >= 1.4
