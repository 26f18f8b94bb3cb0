"""``mappa-intake demo`` (``make demo``): the daemon on embedded defaults, no outside services.

SQLite under ./var/, a local Maildir inbox under ./var/mail/inbox seeded with the sample
messages of ``fixtures/messages`` (each dated as its Date header says), a storage key made for
the run. The daemon takes them and acknowledges each case (the replies are written to the
Maildir ./var/mail/outgoing), the cases it made are printed, and it goes on watching the inbox
until Ctrl-C (``--once``: exits after the first pass); ``mappa-intake decide`` in another
terminal queues a decision's reply. The web console joins it in a later issue.

./var/ is reset at each start, but only if the demo made it: a ./var/ holding anything else
(a real installation's database) is left alone and the demo refuses to start.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from app.settings import load

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "messages"
VAR = Path("var")
MARKER = VAR / ".made-by-demo"


def _reset_var() -> bool:
    if VAR.exists() and not MARKER.exists() and any(VAR.iterdir()):
        print(
            "mappa-intake demo: ./var/ holds data the demo did not make; move it away first",
            file=sys.stderr,
        )
        return False
    shutil.rmtree(VAR, ignore_errors=True)
    VAR.mkdir()
    MARKER.write_text("made by mappa-intake demo; removed at its next start\n")
    return True


def _seed(inbox: Path) -> int:
    """The sample messages, each delivered at the time its Date header gives."""
    from intake.envelope import read_headers
    from intake.maildir import deliver

    samples = sorted(SAMPLES.glob("*.eml"))
    for path in samples:
        raw = path.read_bytes()
        deliver(inbox, raw, read_headers(raw).sent_at)
    return len(samples)


def run_demo(args: argparse.Namespace) -> int:
    if not _reset_var():
        return 2
    from records.sealing import new_key_text

    settings = load(None)
    os.environ.setdefault(str(settings["storage.key_env"]), new_key_text())
    os.environ.setdefault("MAPPA_LOG_LEVEL", "WARNING")  # the tables below say what happened
    seeded = _seed(settings.path("mailbox.path"))
    print(f"mappa-intake demo: {seeded} sample messages delivered to {settings['mailbox.path']}/")
    print("The daemon takes them now (the scanned forms need OCR: allow half a minute).\n")
    from app.daemon import run_daemon

    code = run_daemon(argparse.Namespace(config=None, once=True, now=None))
    _show()
    outgoing = settings.path("outgoing.path") / "new"
    print(f"\nReplies sent: {len(list(outgoing.glob('*')))} (in {outgoing}/)")
    if code != 0 or args.once:
        return code
    print(f"\nWatching {settings['mailbox.path']}/new for more mail; Ctrl-C to stop.")
    print("Decide a case from another terminal, in this folder:")
    print("  mappa-intake decide MAPPA-2026-0001 --outcome accept --level 2")
    code = run_daemon(argparse.Namespace(config=None, once=False, now=None))
    _show()
    return code


def _show() -> None:
    from app.commands import run_state_command

    for command in ("cases", "quarantine"):
        print(f"\n$ mappa-intake {command}{' list' if command == 'quarantine' else ''}")
        run_state_command(
            argparse.Namespace(
                command=command, config=None, json=False, state=None, quarantine_command="list"
            )
        )
