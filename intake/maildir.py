"""A local Maildir as the inbox (the demo, and anywhere mail is delivered to disk).

Messages are files in ``new/`` and ``cur/``; a message's key is its file name up to the
``:2,`` info suffix (the Maildir convention), which never changes, so the key serves as UID.
Processed and quarantined mail moves into the Maildir++ sub-folders ``.Processed`` and
``.Quarantine`` by ``rename``, which is atomic: a message is in one folder or the other,
never both, whenever the process stops.
"""

from __future__ import annotations

import hashlib
import mailbox
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from intake.errors import MailboxError
from intake.mailbox import Destination, Fetched, FolderSnapshot

# How often a waiting daemon looks for new files: deliveries show within this.
POLL_SECONDS = 0.5
# A Maildir has no UIDVALIDITY; its keys never change, so one constant stands in for it.
MAILDIR_UIDVALIDITY = 1
_SUBDIRS = ("new", "cur", "tmp")


class MaildirMailbox:
    def __init__(
        self,
        path: Path,
        *,
        processed_folder: str = "Processed",
        quarantine_folder: str = "Quarantine",
    ) -> None:
        self.path = path
        self._known: dict[str, Path] = {}  # key -> file, from the last listing
        self._listed: set[str] = set()  # the keys of the last snapshot
        self._targets = {
            Destination.PROCESSED: path / f".{processed_folder}",
            Destination.QUARANTINE: path / f".{quarantine_folder}",
        }

    @property
    def name(self) -> str:
        return f"maildir:{self.path.resolve()}"

    @property
    def folder(self) -> str:
        return "INBOX"

    def connect(self) -> None:
        try:
            for folder in (self.path, *self._targets.values()):
                for sub in _SUBDIRS:
                    (folder / sub).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise MailboxError(f"mailbox {self.name}: cannot open: {err}") from err

    def close(self) -> None:
        pass

    def _files(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for sub in ("new", "cur"):
            try:
                entries = list(os.scandir(self.path / sub))
            except OSError as err:
                raise MailboxError(f"mailbox {self.name}: cannot list {sub}/: {err}") from err
            for entry in entries:
                if entry.is_file() and not entry.name.startswith("."):
                    found[entry.name.split(":", 1)[0]] = Path(entry.path)
        return found

    def snapshot(self) -> FolderSnapshot:
        files = self._known = self._files()
        self._listed = set(files)
        # Oldest delivery first: a file's time is when it was delivered.
        keys = sorted(files, key=lambda k: (_mtime(files[k]), k))
        return FolderSnapshot(MAILDIR_UIDVALIDITY, tuple(keys))

    def _path(self, uid: str) -> Path | None:
        """Where the message is: as the last listing saw it, else as the folder is now (a
        mail client may have moved it from new/ to cur/ since). One listing per pass, not one
        per message."""
        path = self._known.get(uid)
        if path is None or not path.exists():
            self._known = self._files()
            path = self._known.get(uid)
        return path

    def fetch(self, uid: str) -> Fetched | None:
        path = self._path(uid)
        if path is None:
            return None
        try:
            raw = path.read_bytes()
            delivered = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise MailboxError(f"mailbox {self.name} uid {uid}: cannot read: {err}") from err
        return Fetched(raw, delivered)

    def move(self, uids: Sequence[str], destination: Destination) -> None:
        for uid in uids:
            path = self._path(uid)
            if path is None:
                continue
            target = self._targets[destination] / "cur" / path.name
            try:
                os.rename(path, target)
            except FileNotFoundError:
                continue
            except OSError as err:
                raise MailboxError(f"mailbox {self.name} uid {uid}: cannot move: {err}") from err

    def keep_copy(self, folder: str, raw: bytes, message_id: str, *, look_first: bool) -> None:
        name = "sent-" + hashlib.sha256(message_id.encode()).hexdigest()[:32]
        try:
            put_once(self.path / f".{folder}", name, raw, seen=True, look_first=look_first)
        except OSError as err:
            raise MailboxError(
                f"mailbox {self.name}: cannot file a copy in {folder}: {err}"
            ) from err

    def wait(self, seconds: float, stop: Callable[[], bool]) -> None:
        """Poll ``new/`` until something is delivered, ``seconds`` pass, or ``stop()``; at
        once if something was delivered while the pass ran (it is not in the last listing)."""
        deadline = time.monotonic() + seconds
        before = self._new_names()
        if any(name.split(":", 1)[0] not in self._listed for name in before):
            return
        while time.monotonic() < deadline and not stop():
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            if self._new_names() - before:
                return

    def _new_names(self) -> set[str]:
        try:
            return {e.name for e in os.scandir(self.path / "new")}
        except OSError:
            return set()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def put_once(
    folder: Path, name: str, raw: bytes, *, seen: bool = False, look_first: bool = True
) -> bool:
    """Write a message into a Maildir under a name of ours, once: False if a message of that
    name is there already (in new/ or cur/, whatever a mail client renamed it to; looked for
    only with ``look_first``, as the listing grows with the folder). Written to tmp/ and
    renamed, so a reader never sees half a message and a stop leaves none."""
    for sub in _SUBDIRS:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("new", "cur") if look_first else ():
        if any(e.name.split(":", 1)[0] == name for e in os.scandir(folder / sub)):
            return False
    temporary = folder / "tmp" / f"{name}.{os.getpid()}"
    with open(temporary, "wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())
    target = folder / "cur" / f"{name}:2,S" if seen else folder / "new" / name
    os.rename(temporary, target)
    return True


def deliver(inbox: Path, raw: bytes, delivered_at: datetime | None = None) -> None:
    """Put a message in a Maildir as a mail server would (tmp/ then new/), dated
    ``delivered_at`` if given: the demo seeds its inbox this way, and the tests theirs."""
    inbox.parent.mkdir(parents=True, exist_ok=True)
    key = mailbox.Maildir(str(inbox), create=True).add(raw)
    if delivered_at is not None:
        # Maildir.add puts the message in new/ under its key; its time is the delivery time.
        stamp = delivered_at.timestamp()
        os.utime(inbox / "new" / key, (stamp, stamp))
