"""``mappa-intake run``: the daemon loop around the intake worker.

Two loops: intake on the main thread, and sending (due chases, then the outbox) on a thread of
its own, woken at once when intake queues an acknowledgement and otherwise every few seconds
(for decisions made from the command line or the console, and replies held by the rate).
One exception boundary per pass of each: a mailbox or mail server that cannot be reached is
retried with a growing pause (a refused login with a long one), and the daemon never stops for
it; one per message inside the workers. SIGTERM and SIGINT finish the message in hand, give the
leases back and exit 0. ``--once`` runs one intake pass, then one sending pass.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from app.exits import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE
from app.settings import ConfigError, load

if TYPE_CHECKING:
    from intake.worker import IntakeWorker
    from responders.chasing import Chaser
    from responders.sender import OutboxSender

log = logging.getLogger("mappa.daemon")

# Pauses after a mailbox failure: doubling from the first to the last.
RETRY_FIRST_SECONDS = 5.0
RETRY_LAST_SECONDS = 300.0
# After a refused login, retrying soon would only lock the account.
AUTH_RETRY_SECONDS = 900.0
# The sender looks at the outbox this often when nothing wakes it.
SEND_POLL_SECONDS = 2.0


def run_daemon(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from app import logs
    from app.runtime import make_clock, open_runtime, open_sending
    from app.wiring import local_datetime, mailbox_from

    logs.configure(os.environ.get("MAPPA_LOG_LEVEL", "INFO"))
    try:
        start = local_datetime(args.now) if args.now else None
    except ValueError:
        print(f"mappa-intake: --now: {args.now!r} is not a date or date-time", file=sys.stderr)
        return EXIT_USAGE
    stopping = threading.Event()
    wake = threading.Event()
    try:
        settings = load(args.config)
        runtime = open_runtime(settings, os.environ, make_clock(start), wake.set)
        mailbox = mailbox_from(settings, os.environ)
        chaser, sender = open_sending(runtime, os.environ, stopping.is_set)
    except ConfigError as err:
        print(f"mappa-intake: {err}", file=sys.stderr)
        return EXIT_USAGE
    except DBAPIError as err:
        print(
            f"mappa-intake: database: cannot be used ({type(err.orig).__name__})", file=sys.stderr
        )
        return EXIT_PROBLEM
    _stop_on_signals(stopping)
    from intake.worker import IntakeWorker

    runtime.processor.casework.warm_up(runtime.processor.clock())
    worker = IntakeWorker(mailbox, runtime.processor, stop=stopping.is_set)
    wait_seconds = float(settings["mailbox.wait_seconds"])
    try:
        if args.once:
            code = _loop(worker, once=True, wait_seconds=wait_seconds, stopping=stopping)
            return max(code, _send_once(chaser, sender))
        sending = threading.Thread(
            target=_send_loop, args=(chaser, sender, stopping, wake), name="sender", daemon=True
        )
        sending.start()
        try:
            return _loop(worker, once=False, wait_seconds=wait_seconds, stopping=stopping)
        finally:
            stopping.set()
            wake.set()
            sending.join()
    finally:
        worker.release_lease()
        sender.release_lease()
        mailbox.close()
        runtime.db.dispose()


def _loop(
    worker: IntakeWorker, *, once: bool, wait_seconds: float, stopping: threading.Event
) -> int:
    from sqlalchemy.exc import DBAPIError

    from intake.errors import MailboxAuthError, MailboxError
    from records.errors import SealError

    retry = RETRY_FIRST_SECONDS
    name = worker.mailbox.name
    while not stopping.is_set():
        try:
            report = worker.run_pass()
            retry = RETRY_FIRST_SECONDS
            if report.busy:
                log.info("mailbox busy: another process holds its lease", extra={"mailbox": name})
                if once:
                    print(
                        f"mappa-intake: mailbox {name} is being read by another process",
                        file=sys.stderr,
                    )
                    return EXIT_PROBLEM
            elif report.claimed or report.processed or report.quarantined:
                log.info(
                    "pass done",
                    extra={
                        "mailbox": name,
                        "claimed": report.claimed,
                        "processed": report.processed,
                        "quarantined": report.quarantined,
                    },
                )
            if once:
                return EXIT_OK
            worker.mailbox.wait(wait_seconds, stopping.is_set)
        except SealError as err:
            # The stored mail cannot be opened with the key in force: nothing can be done
            # until the operator gives the right key, and guessing would lose mail.
            log.error("stored mail cannot be opened: %s", err, extra={"mailbox": name})
            return EXIT_PROBLEM
        except MailboxAuthError as err:
            log.error("mailbox refused our login: %s", err, extra={"mailbox": name})
            if once:
                return EXIT_PROBLEM
            stopping.wait(AUTH_RETRY_SECONDS)
        except (MailboxError, DBAPIError) as err:
            # A mailbox or database that went away (a restart, the network): try again later;
            # the ledger makes the retry safe wherever the pass stopped.
            # A database error's text may quote the SQL parameters (personal data): its type only.
            detail = str(err) if isinstance(err, MailboxError) else type(err).__name__
            log.warning("unavailable: %s", detail, extra={"mailbox": name})
            worker.mailbox.close()
            if once:
                return EXIT_PROBLEM
            stopping.wait(retry)
            retry = min(retry * 2, RETRY_LAST_SECONDS)
    log.info("stopping", extra={"mailbox": name})
    return EXIT_OK


def _send_once(chaser: Chaser, sender: OutboxSender) -> int:
    from sqlalchemy.exc import DBAPIError

    try:
        chaser.run_pass()
        report = sender.run_pass()
    except DBAPIError as err:
        log.warning("unavailable: %s", type(err).__name__, extra={"part": "sender"})
        return EXIT_PROBLEM
    if report.busy:
        print("mappa-intake: the outbox is being sent by another process", file=sys.stderr)
        return EXIT_PROBLEM
    if report.unavailable:
        print(f"mappa-intake: sending stopped: {report.unavailable}", file=sys.stderr)
        return EXIT_PROBLEM
    return EXIT_OK


def _send_loop(
    chaser: Chaser, sender: OutboxSender, stopping: threading.Event, wake: threading.Event
) -> None:
    """Chases, then the outbox, until asked to stop. A failure waits and tries again: it
    never ends the thread (intake would go on with nobody sending)."""
    from sqlalchemy.exc import DBAPIError

    from records.errors import SealError

    retry = RETRY_FIRST_SECONDS
    while not stopping.is_set():
        wake.clear()
        pause = SEND_POLL_SECONDS
        try:
            chaser.run_pass()
            report = sender.run_pass()
            if report.sent or report.ended:
                log.info(
                    "sending pass done",
                    extra={"sent": report.sent, "ended": report.ended, "filed": report.filed},
                )
            if report.unavailable:
                pause, retry = retry, min(retry * 2, RETRY_LAST_SECONDS)
            else:
                retry = RETRY_FIRST_SECONDS
        except SealError as err:
            log.error("stored mail cannot be opened: %s", err, extra={"part": "sender"})
            stopping.set()
            return
        except DBAPIError as err:
            log.warning("unavailable: %s", type(err).__name__, extra={"part": "sender"})
            pause, retry = retry, min(retry * 2, RETRY_LAST_SECONDS)
        except Exception as err:  # a fault of ours: logged, and the loop goes on
            log.error(
                "sending pass failed: %s",
                type(err).__name__,
                extra={"part": "sender"},
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            pause, retry = retry, min(retry * 2, RETRY_LAST_SECONDS)
        wake.wait(pause)


def _stop_on_signals(stopping: threading.Event) -> None:
    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stop requested (%s): finishing the message in hand", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
