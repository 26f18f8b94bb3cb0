"""Alerts to the operator by e-mail: ``AlertWatch.run_pass`` judges the mailboxes and the outbox
(responders/alertrules.py on the facts of records/health.py) and keeps the alert episodes.

An episode is raised once when its condition begins and cleared when it ends; each raise (and
each end of a mailbox episode) queues one e-mail to ``alerts.to`` in the same transaction as
the episode, composed there and then and sealed on the outbox row, under the key
``alert.<kind>.<episode id>``. The outbox sender (responders/sender.py) sends it like any reply:
once, even if the process is killed between the two, and never outside the allow-list. Without
``alerts.to`` the episodes are kept all the same (``status``, ``/metrics``), and nothing is sent.

Outbox failures are events rather than states: the messages that failed or were refused for
good since the last such episode make one episode, raised and cleared at once (one e-mail per
batch, never one per message). An alert that cannot itself be sent is never alerted on:
that would loop; it shows in ``status`` and ``/metrics``.

A pass never raises: a fault here is logged and must not stop the replies sent after it.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from records import health, outbox
from records.database import Database
from records.leases import wall_clock
from records.sealing import Sealer
from records.tables import AlertState, Case, OutboundMessage
from responders.alertmail import AlertNotice, compose_alert
from responders.alertrules import (
    MAILBOX_KINDS,
    AlertKind,
    AlertLimits,
    WorkingHours,
    mailbox_conditions,
    recovered,
)
from responders.compose import WIRE, ReplyKind, Sender

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
OUTBOX_SUBJECT = "outbox"
# A pass judges at most this often: the limits are minutes and working hours, and the sending
# thread that calls it wakes every two seconds.
PASS_SECONDS = 10.0
# An outbox-failure e-mail lists this many messages; the rest are counted.
LISTED_FAILURES = 20


@dataclass(frozen=True, slots=True)
class AlertSettings:
    to: str  # the operator's address; "" sends nothing
    limits: AlertLimits
    working_hours: WorkingHours
    zone: ZoneInfo


@dataclass(slots=True)
class AlertReport:
    raised: list[str] = field(default_factory=list)  # "kind subject"
    cleared: list[str] = field(default_factory=list)
    failed: str = ""  # the type of the error that ended the pass early


class AlertWatch:
    def __init__(
        self,
        db: Database,
        settings: AlertSettings,
        sender: Sender,
        sealer: Sealer,
        mailboxes: Sequence[str],
        *,
        clock: Clock,
        real_clock: Clock = wall_clock,
        wake: Callable[[], None] = lambda: None,
        every: float = PASS_SECONDS,
    ) -> None:
        self.db = db
        self.settings = settings
        self.sender = sender
        self.sealer = sealer
        self.mailboxes = tuple(mailboxes)
        self.clock = clock  # domain time (--now): mail's times, episodes, the outbox
        self.real_clock = real_clock  # reads and failures, like the leases
        self.wake = wake  # tells the sender an alert was queued
        self.host = socket.gethostname()
        self.every = every
        self._last_pass: float | None = None  # time.monotonic() of the last judged pass

    def run_pass(self, now: datetime | None = None) -> AlertReport:
        """Raise what began, clear what ended; queue their e-mails. Never raises. Called
        again within ``every`` seconds, it does nothing."""
        report = AlertReport()
        started = time.monotonic()
        if self._last_pass is not None and started - self._last_pass < self.every:
            return report
        self._last_pass = started
        domain_now = now or self.clock()
        try:
            with self.db.session() as session:
                self._judge_mailboxes(session, self.real_clock(), domain_now, report)
                self._judge_outbox(session, domain_now, report)
        except Exception as err:  # the sending pass after this one must go on regardless
            report.raised.clear()
            report.cleared.clear()
            report.failed = type(err).__name__
            log.error("alert pass failed: %s", report.failed, extra={"part": "alerts"})
            return report
        if report.raised or report.cleared:
            self.wake()
        return report

    # -- mailboxes -------------------------------------------------------------------------

    def _judge_mailboxes(
        self, session: Session, wall_now: datetime, domain_now: datetime, report: AlertReport
    ) -> None:
        for name in self.mailboxes:
            health.note_watched(session, name, domain_now)
        facts = {f.mailbox: f for f in health.mailbox_facts(session, self.mailboxes)}
        still_open = set()
        for episode in health.open_episodes(session, self.mailboxes):
            if episode.kind not in MAILBOX_KINDS:
                continue
            if not recovered(episode.kind, episode.since, facts[episode.subject]):
                still_open.add((episode.kind, episode.subject))
            elif episode.id is not None and health.clear_episode(session, episode.id, domain_now):
                self._cleared(session, episode, domain_now, report)
        for mailbox in facts.values():
            for condition in mailbox_conditions(
                mailbox,
                wall_now=wall_now,
                domain_now=domain_now,
                limits=self.settings.limits,
                working_hours=self.settings.working_hours,
            ):
                if (condition.kind, condition.subject) in still_open:
                    continue
                raised = health.raise_episode(
                    session,
                    kind=condition.kind,
                    subject=condition.subject,
                    since=condition.since,
                    detail=condition.detail,
                    now=domain_now,
                )
                if raised is not None:
                    self._raised(session, raised, domain_now, report)

    def _raised(
        self,
        session: Session,
        episode: AlertState,
        now: datetime,
        report: AlertReport,
        items: Sequence[str] = (),
    ) -> None:
        report.raised.append(f"{episode.kind} {episode.subject}")
        log.warning(
            "alert raised: %s",
            episode.kind,
            extra={"alert": episode.kind, "subject": episode.subject, "episode": episode.episode},
        )
        self._queue(session, episode, self._notice(episode, now, items=items), now)

    def _cleared(
        self, session: Session, episode: AlertState, now: datetime, report: AlertReport
    ) -> None:
        report.cleared.append(f"{episode.kind} {episode.subject}")
        log.info(
            "alert cleared: %s",
            episode.kind,
            extra={"alert": episode.kind, "subject": episode.subject, "episode": episode.episode},
        )
        self._queue(session, episode, self._notice(episode, now, resolved=True), now)

    # -- the outbox ------------------------------------------------------------------------

    def _judge_outbox(self, session: Session, now: datetime, report: AlertReport) -> None:
        kind = AlertKind.OUTBOX_FAILED
        latest = health.latest_episode(session, kind, OUTBOX_SUBJECT)
        after = (latest.outbox_upto or 0) if latest is not None else 0
        failed = health.outbox_failures_after(session, after, ReplyKind.ALERT)
        if not failed or failed[-1].id is None:
            return
        episode = health.raise_event(
            session,
            after=latest,
            kind=kind,
            subject=OUTBOX_SUBJECT,
            detail=f"{len(failed)} messages not sent (outbox rows after {after})",
            now=now,
            outbox_upto=failed[-1].id,
        )
        if episode is None:
            return  # another daemon told this batch
        items = [_failure_line(session, row) for row in failed[:LISTED_FAILURES]]
        if len(failed) > LISTED_FAILURES:
            items.append(f"... and {len(failed) - LISTED_FAILURES} more")
        self._raised(session, episode, now, report, items)

    # -- the e-mail ------------------------------------------------------------------------

    def _notice(
        self,
        episode: AlertState,
        now: datetime,
        *,
        resolved: bool = False,
        items: Sequence[str] = (),
    ) -> AlertNotice:
        return AlertNotice(
            kind=AlertKind(episode.kind),
            subject=episode.subject,
            episode=episode.episode,
            since=episode.since,
            detail=episode.detail,
            at=now,
            resolved=resolved,
            items=tuple(items),
            host=self.host,
        )

    def _queue(
        self, session: Session, episode: AlertState, notice: AlertNotice, now: datetime
    ) -> None:
        """The episode's e-mail into the outbox, composed and sealed now (no template, no case
        to read later); nothing without ``alerts.to``."""
        if not self.settings.to:
            return
        key = f"alert.{episode.kind}.{episode.id}" + (".resolved" if notice.resolved else "")
        row = outbox.queue(
            session,
            key=key,
            kind=ReplyKind.ALERT,
            recipient=self.settings.to,
            now=now,
            message_id_domain=self.sender.message_id_domain,
        )
        if row.sealed is not None or row.id is None:
            return  # queued and composed before (by another daemon)
        message = compose_alert(
            notice,
            self.settings.to,
            self.sender,
            message_id=row.message_id,
            now=now,
            zone=self.settings.zone,
        )
        outbox.store_composed(session, row.id, message.as_bytes(policy=WIRE), self.sealer)


def _failure_line(session: Session, row: OutboundMessage) -> str:
    """One failed message by its references: outbox row, kind, case, state."""
    case = session.get(Case, row.case_id) if row.case_id is not None else None
    return f"outbox {row.id}: {row.kind}, {case.ref if case else 'no case'}, {row.state}"
