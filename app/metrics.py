"""``/metrics``: the service's figures in the Prometheus exposition format.

A custom collector reads the database at scrape time, so every process that serves it, and
several daemons sharing one database, give the same figures, and a restart loses no count:
the counters are counts of durable rows (messages received, quarantined, replies sent), never
numbers held in memory. Labels carry kinds, states and mailbox names only: no person, no
address, no case reference. If the database does not answer, the scrape still succeeds with
``mappa_intake_database_up 0`` and nothing else (a failed scrape, ``up == 0``, is kept for the
daemon itself being down).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError

from records import health, outbox, views
from records.database import Database
from records.leases import wall_clock
from records.tables import AlertState, CaseState

log = logging.getLogger(__name__)

PREFIX = "mappa_intake_"


def _gauge(name: str, text: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, text, labels=list(labels))


def _counter(name: str, text: str, labels: tuple[str, ...] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, text, labels=list(labels))


def _seconds(value: datetime) -> float:
    return value.timestamp()


class IntakeCollector(Collector):
    def __init__(
        self,
        db: Database,
        flagger: Callable[[], views.DeadlineFlagger],
        real_clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        self.db = db
        self.flagger = flagger  # deadlines flagged against today's date, made per scrape
        self.real_clock = real_clock

    def describe(self) -> list[Metric]:
        return []  # nothing read at registration: the database is read at scrape time only

    def collect(self) -> Iterator[Metric]:
        up = _gauge("database_up", "1 if the database answered this scrape, else 0.")
        try:
            families = self._read()
        except SQLAlchemyError as err:
            log.warning("metrics: database unavailable: %s", type(err).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[Metric]:
        now = self.real_clock()
        with self.db.session() as session:
            status = views.status(session, self.flagger(), now)
            figures = health.figures(session)
            mailboxes = health.mailbox_facts(session, health.known_mailboxes(session))
            alerts = health.open_episodes(session)
        return [
            *_intake(status, figures),
            *_replies(status, figures),
            *_mailboxes(mailboxes, now),
            *_alerts(alerts, figures),
        ]


def _intake(status: dict[str, Any], figures: health.Figures) -> list[Metric]:
    received = _counter(
        "messages_received", "Messages taken from each mailbox into the ledger.", ("mailbox",)
    )
    for mailbox, count in sorted(figures.received.items()):
        received.add_metric([mailbox], count)
    waiting = _gauge("messages_waiting", "Messages claimed and not yet processed.")
    waiting.add_metric([], status["waiting"])
    quarantined = _counter(
        "messages_quarantined", "Messages ever quarantined, by kind of reason.", ("kind",)
    )
    held = _gauge("quarantine_held", "Quarantined messages still held, by kind.", ("kind",))
    for kind in sorted(figures.quarantined):
        quarantined.add_metric([kind], figures.quarantined[kind])
        held.add_metric([kind], figures.held.get(kind, 0))
    cases = _gauge("cases", "Cases by state.", ("state",))
    for state in CaseState:
        cases.add_metric([state.value], status["cases"].get(state.value, 0))
    at_risk = _gauge(
        "deadlines_at_risk",
        "Open cases with a T1-T5 deadline missed, or near (deadlines.near_working_days).",
        ("flag",),
    )
    for flag in ("missed", "near"):
        at_risk.add_metric([flag], len(status["deadlines"][flag]))
    return [received, waiting, quarantined, held, cases, at_risk]


def _replies(status: dict[str, Any], figures: health.Figures) -> list[Metric]:
    sent = _counter("replies_sent", "Messages accepted by the mail server, by kind.", ("kind",))
    failed = _counter(
        "replies_failed",
        "Messages that will never be sent: refused for good by the server (failed) or by us"
        " (refused: recipient outside the allow-list), by kind.",
        ("kind", "state"),
    )
    waiting = _gauge("replies_waiting", "Messages queued, not yet sent, by kind.", ("kind",))
    totals: dict[tuple[str, str], int] = {}
    for (kind, state), count in figures.outbox.items():
        if state in outbox.SENT_STATES:
            key = ("sent", kind)
        elif state in outbox.PENDING_STATES:
            key = ("waiting", kind)
        elif state in outbox.FAILED_STATES:
            failed.add_metric([kind, state], count)
            continue
        else:
            continue  # cancelled: no longer wanted, nothing to watch
        totals[key] = totals.get(key, 0) + count
    for (which, kind), count in sorted(totals.items()):
        (sent if which == "sent" else waiting).add_metric([kind], count)
    chases = _gauge("chases", "Chase steps by kind and state.", ("kind", "state"))
    for (kind, state), count in sorted(figures.chases.items()):
        chases.add_metric([kind, state], count)
    bounced = _gauge("bounced_addresses", "Addresses a bounce said are undeliverable.")
    bounced.add_metric([], status["bounced_addresses"])
    return [sent, failed, waiting, chases, bounced]


def _mailboxes(facts: list[health.MailboxFacts], now: datetime) -> list[Metric]:
    read = _gauge(
        "mailbox_last_read_timestamp_seconds",
        "When each mailbox was last read in full (Unix time).",
        ("mailbox",),
    )
    age = _gauge(
        "mailbox_last_read_age_seconds",
        "Seconds since each mailbox was last read in full.",
        ("mailbox",),
    )
    message = _gauge(
        "mailbox_last_message_timestamp_seconds",
        "When the newest message of each mailbox was taken (Unix time, the daemon's clock).",
        ("mailbox",),
    )
    failing = _gauge(
        "mailbox_failing",
        "1 for a mailbox whose last read failed, by kind (login_refused, unreachable).",
        ("mailbox", "kind"),
    )
    token = _gauge(
        "mailbox_token_expiry_timestamp_seconds",
        "When the OAuth 2.0 token a mailbox is read with runs out (Unix time), if known.",
        ("mailbox",),
    )
    for f in facts:
        if f.last_read_at is not None:
            read.add_metric([f.mailbox], _seconds(f.last_read_at))
            age.add_metric([f.mailbox], max(0.0, (now - f.last_read_at).total_seconds()))
        if f.last_message_at is not None:
            message.add_metric([f.mailbox], _seconds(f.last_message_at))
        if f.failing:
            failing.add_metric([f.mailbox, f.failure_kind], 1)
        if f.token_expires_at is not None:
            token.add_metric([f.mailbox], _seconds(f.token_expires_at))
    return [read, age, message, failing, token]


def _alerts(episodes: list[AlertState], figures: health.Figures) -> list[Metric]:
    active = _gauge(
        "alert_active",
        "1 for each alert episode raised and not yet cleared (docs/operations.md).",
        ("kind", "subject"),
    )
    for episode in episodes:
        active.add_metric([episode.kind, episode.subject], 1)
    raised = _counter("alerts_raised", "Alert episodes ever raised, by kind.", ("kind",))
    for kind, count in sorted(figures.alerts_raised.items()):
        raised.add_metric([kind], count)
    return [active, raised]


def metrics_registry(collector: IntakeCollector) -> CollectorRegistry:
    """A registry of our own: only our figures, none of the library's process defaults."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
