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
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

from app.exits import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, state_failure
from app.settings import ConfigError, load

if TYPE_CHECKING:
    from intake.mailbox import Mailbox
    from intake.worker import IntakeWorker
    from responders.alerts import AlertWatch
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
# A daemon that does not hold every mailbox looks this often for messages the holders
# claimed, to read some of them.
HELP_POLL_SECONDS = 2.0


def run_daemon(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from app import logs
    from app.health import open_health, token_expiry_recorder
    from app.retention import DaemonRetention
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
        mailboxes = [mailbox_from(each, os.environ, runtime.db) for each in settings.mailboxes()]
        _check_distinct(mailboxes)
        chaser, sender = open_sending(runtime, os.environ, stopping.is_set)
        # Alerts, /metrics and /healthz (app/health.py).
        health = open_health(runtime, [m.name for m in mailboxes], serve=not args.once)
        retention = DaemonRetention(runtime.db, settings)
    except ConfigError as err:
        print(f"mappa-intake: {err}", file=sys.stderr)
        return EXIT_USAGE
    except DBAPIError as err:
        return state_failure(err)
    _stop_on_signals(stopping)
    from intake.worker import IntakeWorker

    runtime.processor.casework.warm_up(runtime.processor.clock())
    workers = [IntakeWorker(m, runtime.processor, stop=stopping.is_set) for m in mailboxes]
    intake = IntakeLoop(
        workers,
        float(settings["mailbox.wait_seconds"]),
        stopping,
        note_token=token_expiry_recorder(runtime.db),
    )
    # Housekeeping on the sending thread: retention at most every ten minutes, by the domain
    # clock (so ``--now`` replays it too).
    clock = runtime.processor.clock
    housekeeping = Housekeeping(health.alerts, lambda: retention.run_pass(clock()))
    try:
        if args.once:
            code = intake.run(once=True)
            return max(code, _send_once(chaser, sender, housekeeping))
        sending = threading.Thread(
            target=_send_loop,
            args=(chaser, sender, stopping, wake, housekeeping),
            name="sender",
            daemon=True,
        )
        sending.start()
        try:
            return intake.run(once=False)
        finally:
            stopping.set()
            wake.set()
            sending.join()
    finally:
        for worker in workers:
            _hand_back(worker.release_lease)
            worker.mailbox.close()
        _hand_back(sender.release)
        health.close()
        runtime.db.dispose()


def _hand_back(release: Callable[[], None]) -> None:
    """Give up a lease or taken rows on the way out. A database that is away then is no
    reason to fail the stop: what was held runs out by itself (its expiry)."""
    from sqlalchemy.exc import DBAPIError

    try:
        release()
    except DBAPIError as err:
        log.warning("could not hand back on stopping: %s", type(err).__name__)


def _check_distinct(mailboxes: list[Mailbox]) -> None:
    names = [m.name for m in mailboxes]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"mailboxes: {', '.join(twice)} configured more than once")


class IntakeLoop:
    """Every configured mailbox, one pass each in turn, on the main thread (parsing's time
    limit uses SIGALRM, which works there only), then a wait for new mail in any of them.

    Each mailbox keeps its own retry pause: one server that is away does not hold up the
    others. A mailbox another daemon holds is not read here, but what that daemon claimed is
    read by whichever daemon is free (``IntakeWorker.run_pass``), so a daemon holding no
    mailbox looks for such work every ``HELP_POLL_SECONDS``.
    """

    def __init__(
        self,
        workers: list[IntakeWorker],
        wait_seconds: float,
        stopping: threading.Event,
        note_token: Callable[[str, datetime], None] = lambda _mailbox, _expires: None,
    ) -> None:
        self.workers = workers
        self.wait_seconds = wait_seconds
        self.stopping = stopping
        self._note_token = note_token
        self._token_noted: dict[str, datetime] = {}
        # Stored mail the key cannot open: nothing good can follow, the daemon stops.
        self.fatal = False
        self._pause = {id(w): RETRY_FIRST_SECONDS for w in workers}
        self._not_before = {id(w): 0.0 for w in workers}
        self._holding: list[IntakeWorker] = []

    def run(self, *, once: bool) -> int:
        while not self.stopping.is_set():
            code = EXIT_OK
            self._holding = []
            for worker in self.workers:
                if self.stopping.is_set() or self.fatal:
                    break
                if time.monotonic() >= self._not_before[id(worker)]:
                    code = max(code, self._pass(worker, once=once))
            if once or self.fatal:
                return EXIT_PROBLEM if self.fatal else code
            self._wait()
        log.info("stopping")
        return EXIT_OK

    def _pass(self, worker: IntakeWorker, *, once: bool) -> int:
        """One pass of one mailbox, behind the boundary that keeps the daemon up."""
        from sqlalchemy.exc import DBAPIError

        from app.health import note_mailbox_failure
        from intake.errors import MailboxAuthError, MailboxError
        from records.errors import SealError

        name = worker.mailbox.name
        try:
            report = worker.run_pass()
        except SealError as err:
            # The stored mail cannot be opened with the key in force: nothing can be done
            # until the operator gives the right key, and guessing would lose mail.
            log.error("stored mail cannot be opened: %s", err, extra={"mailbox": name})
            self.fatal = True
            return EXIT_PROBLEM
        except MailboxAuthError as err:
            log.error("mailbox refused our login: %s", err, extra={"mailbox": name})
            note_mailbox_failure(worker, err)  # the login_refused alert
            self._later(worker, AUTH_RETRY_SECONDS)
            return EXIT_PROBLEM
        except (MailboxError, DBAPIError) as err:
            # A mailbox or database that went away (a restart, the network): try again later;
            # the ledger makes the retry safe wherever the pass stopped.
            # A database error's text may quote the SQL parameters (personal data): its type only.
            detail = str(err) if isinstance(err, MailboxError) else type(err).__name__
            log.warning("unavailable: %s", detail, extra={"mailbox": name})
            note_mailbox_failure(worker, err)  # mailbox_stale, /healthz
            worker.mailbox.close()
            pause = self._pause[id(worker)]
            self._later(worker, pause)
            self._pause[id(worker)] = min(pause * 2, RETRY_LAST_SECONDS)
            return EXIT_PROBLEM
        self._pause[id(worker)] = RETRY_FIRST_SECONDS
        self._token_expiry(name)
        if report.busy:
            log.info("mailbox busy: another process holds its lease", extra={"mailbox": name})
            if once:
                print(
                    f"mappa-intake: mailbox {name} is being read by another process",
                    file=sys.stderr,
                )
                return EXIT_PROBLEM
            return EXIT_OK
        self._holding.append(worker)
        if report.claimed or report.processed or report.quarantined:
            log.info(
                "pass done",
                extra={
                    "mailbox": name,
                    "claimed": report.claimed,
                    "processed": report.processed,
                    "quarantined": report.quarantined,
                },
            )
        return EXIT_OK

    def _token_expiry(self, name: str) -> None:
        """Note when the mailbox's OAuth token runs out, once per new token."""
        from app.wiring import token_source_of

        tokens = token_source_of(name)
        expires = tokens.expires_at if tokens is not None else None
        if expires is not None and self._token_noted.get(name) != expires:
            self._token_noted[name] = expires
            self._note_token(name, expires)

    def _later(self, worker: IntakeWorker, seconds: float) -> None:
        self._not_before[id(worker)] = time.monotonic() + seconds

    def _wait(self) -> None:
        """Until mail may have come to a mailbox we hold, a mailbox's retry is due, or (when
        another daemon holds a mailbox) it is time to look for its claimed messages."""
        seconds = self.wait_seconds
        if len(self._holding) < len(self.workers):
            seconds = min(seconds, HELP_POLL_SECONDS)
        now = time.monotonic()
        due = [t - now for t in self._not_before.values() if t > now]
        if due and len(due) == len(self.workers):
            seconds = min(seconds, max(0.0, min(due)))
        if len(self._holding) == 1 and len(self.workers) == 1:
            self._wait_one(self._holding[0], seconds, self.stopping.is_set)
            return
        if not self._holding:
            self.stopping.wait(seconds)
            return
        # Several mailboxes: each waits on its own connection in a thread; the first to
        # see mail ends every wait.
        woke = threading.Event()

        def stop() -> bool:
            return self.stopping.is_set() or woke.is_set()

        def wait(worker: IntakeWorker) -> None:
            self._wait_one(worker, seconds, stop)
            woke.set()

        threads = [threading.Thread(target=wait, args=(w,), daemon=True) for w in self._holding]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    @staticmethod
    def _wait_one(worker: IntakeWorker, seconds: float, stop: Callable[[], bool]) -> None:
        from intake.errors import MailboxError

        try:
            worker.mailbox.wait(seconds, stop)
        except MailboxError as err:  # the next pass meets it again and handles it
            log.info("wait ended: %s", err, extra={"mailbox": worker.mailbox.name})


@dataclass(frozen=True, slots=True)
class Housekeeping:
    """What the sending thread does before each pass: the alerts first (their e-mails then go
    in the same pass), then retention (at most every ten minutes)."""

    alerts: AlertWatch
    retention: Callable[[], object]

    def run_pass(self) -> None:
        self.alerts.run_pass()  # never raises
        self.retention()  # a database error goes to the sending loop's boundary


def _send_once(chaser: Chaser, sender: OutboxSender, housekeeping: Housekeeping) -> int:
    from sqlalchemy.exc import DBAPIError

    try:
        housekeeping.run_pass()
        chaser.run_pass()
        report = sender.run_pass()
    except DBAPIError as err:
        log.warning("unavailable: %s", type(err).__name__, extra={"part": "sender"})
        return EXIT_PROBLEM
    if report.unavailable:
        print(f"mappa-intake: sending stopped: {report.unavailable}", file=sys.stderr)
        return EXIT_PROBLEM
    return EXIT_OK


def _send_loop(
    chaser: Chaser,
    sender: OutboxSender,
    stopping: threading.Event,
    wake: threading.Event,
    housekeeping: Housekeeping,
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
            housekeeping.run_pass()
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
