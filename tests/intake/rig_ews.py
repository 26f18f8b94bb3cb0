"""The EWS adapter's rig for the shared mailbox behaviour suite: the EWS STAND-IN on loopback
(tests/intake/ews_server.py), answering with RECORDED SHAPES, not an Exchange Server. The
adapter logs in with bearer tokens (auth "oauth"), so that a token can expire; the cursor
(sync state and ids) persists in a file between adapters, as the database keeps it between
processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from intake.ews import EwsMailbox, EwsSettings
from intake.mailbox import Mailbox
from tests.intake.ews_server import EWS_USER, MAILBOX, EwsServer, ews_server

FOLDERS = {"inbox": "inbox", "processed": "Processed", "quarantine": "Quarantine"}


class FileCursor:
    """A ``CursorStore`` in a file, written whole (rename), as a restart must find it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> str | None:
        return self.path.read_text() if self.path.exists() else None

    def save(self, state: str) -> None:
        new = self.path.with_suffix(".new")
        new.write_text(state)
        os.replace(new, self.path)


class EwsRig:
    def __init__(self, server: EwsServer, folder: Path) -> None:
        self.server = server
        self.stand_in = server.stand_in
        self.cursor = FileCursor(folder / "ews-cursor.json")
        # What a token source holds: the token it hands out until told it was refused.
        self.token = self.stand_in.issue_token()
        self.refusals = 0
        self._made: list[EwsMailbox] = []

    def settings(self, **changes: object) -> EwsSettings:
        values: dict[str, object] = {
            "url": self.server.url,
            "username": EWS_USER,
            "primary_smtp_address": MAILBOX,
            "auth": "oauth",
            "ca_file": self.server.ca_file,
            "poll_seconds": 0.2,
        }
        values.update(changes)
        return EwsSettings(**values)  # type: ignore[arg-type]

    def make(self) -> Mailbox:
        box = EwsMailbox(self.settings(), lambda: self.token, self.cursor, self.refused)
        self._made.append(box)
        return box

    def refused(self) -> None:
        """The adapter says the token was refused: a token source asks for a new one."""
        self.refusals += 1
        self.token = self.stand_in.issue_token()

    def deliver(self, raw: bytes) -> None:
        self.stand_in.deliver(raw)

    def count(self, folder: str) -> int:
        return self.stand_in.count(FOLDERS[folder])

    def move_away(self, message_id: str) -> None:
        self.stand_in.colleague_move(message_id, "Dealt with")

    def delete(self, message_id: str) -> None:
        self.stand_in.colleague_delete(message_id)

    def expire_token(self) -> None:
        self.stand_in.expire_tokens()

    def refuse_credentials(self) -> None:
        self.stand_in.refuse_logins(True)

    def accept_credentials(self) -> None:
        self.stand_in.refuse_logins(False)

    def close(self) -> None:
        for box in self._made:
            box.close()


@contextmanager
def ews_rig(tmp_path: Path) -> Iterator[EwsRig]:
    with ews_server(tmp_path / "ews") as server:
        rig = EwsRig(server, tmp_path)
        try:
            yield rig
        finally:
            rig.close()
