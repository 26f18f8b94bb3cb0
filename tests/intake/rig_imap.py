"""The IMAP adapter's rig for the shared mailbox behaviour suite: the real Dovecot on
loopback (IMAPS with the test CA), driven by a second client as the agencies and a colleague."""

from __future__ import annotations

import email
from collections.abc import Iterator
from contextlib import contextmanager

from intake.imap import ImapMailbox, ImapSettings
from intake.mailbox import Mailbox
from tests.intake import imap_tools
from tests.servers import DOVECOT_PASSWORD, DOVECOT_USER, Dovecot

FOLDERS = {"inbox": "INBOX", "processed": "Processed", "quarantine": "Quarantine"}


class ImapRig:
    def __init__(self, dovecot: Dovecot) -> None:
        self.dovecot = dovecot
        self.password = DOVECOT_PASSWORD
        self._made: list[ImapMailbox] = []

    def make(self) -> Mailbox:
        settings = ImapSettings(
            host="127.0.0.1",
            port=self.dovecot.imaps_port,
            username=DOVECOT_USER,
            security="tls",
            ca_file=self.dovecot.ca_file,
        )
        # The secret is read at each login, as the real wiring does.
        box = ImapMailbox(settings, lambda: self.password)
        self._made.append(box)
        return box

    def deliver(self, raw: bytes) -> None:
        imap_tools.append(self.dovecot, "INBOX", raw)

    def count(self, folder: str) -> int:
        return imap_tools.count(self.dovecot, FOLDERS[folder])

    def _uid_of(self, connection: object, message_id: str) -> int:
        found = connection.search(["HEADER", "Message-ID", message_id])  # type: ignore[attr-defined]
        assert len(found) == 1, f"{message_id} not in the inbox"
        return int(found[0])

    def move_away(self, message_id: str) -> None:
        with imap_tools.client(self.dovecot) as colleague:
            if not colleague.folder_exists("Dealt with"):
                colleague.create_folder("Dealt with")
            colleague.select_folder("INBOX")
            uid = self._uid_of(colleague, message_id)
            colleague.copy([uid], "Dealt with")
            colleague.delete_messages([uid])
            colleague.uid_expunge([uid])

    def delete(self, message_id: str) -> None:
        with imap_tools.client(self.dovecot) as colleague:
            colleague.select_folder("INBOX")
            uid = self._uid_of(colleague, message_id)
            colleague.delete_messages([uid])
            colleague.uid_expunge([uid])

    def expire_token(self) -> None:
        # A password does not expire; what an IMAP client meets when its credential ends is
        # the server closing the session (Exchange Online does so when the token's hour is up).
        self.dovecot.kick()

    def refuse_credentials(self) -> None:
        self.password = "not-the-password"

    def accept_credentials(self) -> None:
        self.password = DOVECOT_PASSWORD

    def close(self) -> None:
        for box in self._made:
            box.close()


def message_id_of(raw: bytes) -> str:
    return str(email.message_from_bytes(raw)["Message-ID"])


@contextmanager
def imap_rig(dovecot: Dovecot) -> Iterator[ImapRig]:
    imap_tools.empty(dovecot)
    rig = ImapRig(dovecot)
    try:
        yield rig
    finally:
        rig.close()
