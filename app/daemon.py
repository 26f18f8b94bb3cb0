"""``mappa-intake run``: the daemon loop around the intake worker.

One exception boundary per mailbox pass: a mailbox that cannot be reached is retried with a
growing pause (a refused login with a long one), and the daemon never stops for it; one per
message inside the worker. SIGTERM and SIGINT finish the message in hand, give the lease back
and exit 0.
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

from app.settings import ConfigError, load

if TYPE_CHECKING:
    from intake.worker import IntakeWorker

log = logging.getLogger("mappa.daemon")

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
# Pauses after a mailbox failure: doubling from the first to the last.
RETRY_FIRST_SECONDS = 5.0
RETRY_LAST_SECONDS = 300.0
# After a refused login, retrying soon would only lock the account.
AUTH_RETRY_SECONDS = 900.0


def run_daemon(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from app import logs
    from app.runtime import make_clock, open_runtime
    from app.wiring import local_datetime, mailbox_from

    logs.configure(os.environ.get("MAPPA_LOG_LEVEL", "INFO"))
    try:
        start = local_datetime(args.now) if args.now else None
    except ValueError:
        print(f"mappa-intake: --now: {args.now!r} is not a date or date-time", file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = load(args.config)
        runtime = open_runtime(settings, os.environ, make_clock(start))
        mailbox = mailbox_from(settings, os.environ)
    except ConfigError as err:
        print(f"mappa-intake: {err}", file=sys.stderr)
        return EXIT_USAGE
    except DBAPIError as err:
        print(
            f"mappa-intake: database: cannot be used ({type(err.orig).__name__})", file=sys.stderr
        )
        return EXIT_PROBLEM
    stopping = _stop_on_signals()
    from intake.worker import IntakeWorker

    runtime.processor.casework.warm_up(runtime.processor.clock())
    worker = IntakeWorker(mailbox, runtime.processor, stop=stopping.is_set)
    wait_seconds = float(settings["mailbox.wait_seconds"])
    try:
        return _loop(worker, once=args.once, wait_seconds=wait_seconds, stopping=stopping)
    finally:
        worker.release_lease()
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


def _stop_on_signals() -> threading.Event:
    stopping = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stop requested (%s): finishing the message in hand", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stopping
