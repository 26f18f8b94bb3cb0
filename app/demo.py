"""``mappa-intake demo`` (``make demo``): the daemon on embedded defaults, no outside services.

SQLite under ./var/, a local Maildir inbox under ./var/mail/inbox seeded with the sample
messages of ``fixtures/messages`` (each dated as its Date header says), a storage key made for
the run. The daemon takes them and acknowledges each case (the replies are written to the
Maildir ./var/mail/outgoing), the cases it made are printed, and it goes on watching the inbox
until Ctrl-C (``--once``: exits after the first pass). The web console runs beside it, in the
same process, on http://127.0.0.1:8080/; the demo makes a Co-ordinator account and prints its
one-time login link.

./var/ is reset at each start, but only if the demo made it: a ./var/ holding anything else
(a real installation's database) is left alone and the demo refuses to start.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from app.settings import Settings, load

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
    link, stop_console = _start_console(settings, args.port)
    print("\nThe console: open this one-time login link, choose a password, and work the queue:")
    print(f"  {link}")
    print(f"\nWatching {settings['mailbox.path']}/new for more mail; Ctrl-C to stop.")
    code = run_daemon(argparse.Namespace(config=None, once=False, now=None))
    stop_console()
    _show()
    return code


def _start_console(settings: Settings, port: int) -> tuple[str, Callable[[], None]]:
    """The console on a thread of its own (the daemon keeps the main thread and the signals);
    a Co-ordinator account made for the demo, and its one-time login link."""
    import threading
    import time
    from dataclasses import replace
    from datetime import UTC, datetime

    from app.console import console_server, console_services, welcome_link
    from app.runtime import open_database
    from records import people
    from records.tables import Role

    db = open_database(settings)
    services = console_services(settings, os.environ, db)
    services = replace(services, settings=replace(services.settings, port=port))
    now = datetime.now(UTC)
    with db.session() as session:
        user = people.add_user(
            session, "coordinator", "MAPPA Co-ordinator (demo)", Role.COORDINATOR, now
        )
        token = people.issue_one_time_login(session, user, now + services.settings.one_time_login)
    server = console_server(services)
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()
    for _ in range(100):  # the link is printed once the console answers (at most 10 s)
        if server.started or not thread.is_alive():
            break
        time.sleep(0.1)

    def stop() -> None:
        server.should_exit = True  # uvicorn finishes the requests under way, then returns
        thread.join(timeout=10)

    return welcome_link(services.settings, token), stop


def _show() -> None:
    from app.commands import run_state_command

    for command in ("cases", "quarantine"):
        print(f"\n$ mappa-intake {command}{' list' if command == 'quarantine' else ''}")
        run_state_command(
            argparse.Namespace(
                command=command, config=None, json=False, state=None, quarantine_command="list"
            )
        )
