"""Health and alerts wired from the settings: the alert watch the daemon's sending thread runs
before each sending pass, the ``/metrics`` and ``/healthz`` server, and the small hooks the
daemon and a token source call. docs/operations.md ("Health and alerts") says what each alert
and metric means.

Hooks (app/daemon.py):

* ``open_health(runtime, mailbox_names, serve=...)`` at start, ``Health.close()`` at the end;
* ``health.alerts.run_pass()`` before each sending pass (``daemon.Housekeeping``: its
  e-mail goes in that pass);
* ``note_mailbox_failure(worker, err)`` in the intake loop's exception branches;
* ``token_expiry_recorder(db)`` gives the ``(mailbox, expires_at)`` callback the intake loop
  calls when a mailbox logs in with a new OAuth 2.0 token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from app.settings import ConfigError, Settings
from app.wiring import LOCAL_ZONE
from records import health
from records.database import Database
from records.leases import wall_clock

if TYPE_CHECKING:
    from app.healthserver import HealthServer
    from app.runtime import Runtime
    from intake.worker import IntakeWorker
    from responders.alerts import AlertSettings, AlertWatch

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Health:
    alerts: AlertWatch
    server: HealthServer | None = None

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def alert_settings_from(settings: Settings) -> AlertSettings:
    """The alert settings, checked: ``alerts.to`` inside the allow-list, office hours a span."""
    from app.wiring import reply_settings_from, triage_from
    from responders.alertrules import AlertLimits
    from responders.alerts import AlertSettings
    from responders.compose import RecipientRefused, check_recipient
    from triage.workhours import OfficeHours, working_hours_between

    to = str(settings["alerts.to"]).strip()
    if to:
        try:
            to = check_recipient(to, reply_settings_from(settings).sender)
        except RecipientRefused as err:
            raise ConfigError(f"alerts.to: {err} (senders.allowed_domains)") from err
    try:
        hours = OfficeHours.parse(str(settings["alerts.working_hours"]))
    except ValueError as err:
        raise ConfigError(f"alerts.working_hours: {err}") from err
    stale_minutes = float(settings["alerts.mailbox_stale_minutes"])
    if stale_minutes <= 0:  # 0 would call every mailbox stale between two passes
        raise ConfigError("alerts.mailbox_stale_minutes: must be more than 0")
    _triage, calendar = triage_from(settings)
    return AlertSettings(
        to=to,
        limits=AlertLimits(
            stale_after=timedelta(minutes=stale_minutes),
            silent_working_hours=float(settings["alerts.silent_working_hours"]),
        ),
        working_hours=partial(
            working_hours_between, calendar=calendar, hours=hours, zone=LOCAL_ZONE
        ),
        zone=LOCAL_ZONE,
    )


def open_health(runtime: Runtime, mailboxes: Sequence[str], *, serve: bool) -> Health:
    """The alert watch of ``mailboxes``, and (``serve``: a long-running daemon, not ``--once``)
    the /metrics and /healthz server if ``health.port`` is not 0. Raises ConfigError."""
    from app.wiring import reply_settings_from
    from responders.alerts import AlertWatch

    settings = runtime.settings
    alert_settings = alert_settings_from(settings)
    watch = AlertWatch(
        runtime.db,
        alert_settings,
        reply_settings_from(settings).sender,
        runtime.processor.sealer,
        mailboxes,
        clock=runtime.processor.clock,
    )
    found = Health(watch)
    port = int(settings["health.port"])
    if serve and port:
        found.server = _server(runtime, mailboxes, alert_settings.limits.stale_after, port)
        found.server.start()
    return found


def _server(
    runtime: Runtime, mailboxes: Sequence[str], stale_after: timedelta, port: int
) -> HealthServer:
    from app.commands import deadline_flagger
    from app.healthserver import HealthServer, MailboxHealthCheck
    from app.metrics import IntakeCollector, metrics_registry

    settings = runtime.settings
    collector = IntakeCollector(runtime.db, lambda: deadline_flagger(settings))
    check = MailboxHealthCheck(runtime.db, mailboxes, stale_after)
    return HealthServer(str(settings["health.host"]), port, metrics_registry(collector), check)


def note_mailbox_failure(worker: IntakeWorker, err: Exception) -> None:
    """The daemon's intake loop caught ``err``: a refused login or an unreachable mailbox is
    noted for the alerts; anything else (the database) is not a mailbox's failure."""
    from intake.errors import MailboxAuthError, MailboxError

    if isinstance(err, MailboxAuthError):
        kind = health.LOGIN_REFUSED
    elif isinstance(err, MailboxError):
        kind = health.UNREACHABLE
    else:
        return
    try:
        with worker.db.session() as session:
            health.note_mailbox_failure(session, worker.mailbox.name, kind, wall_clock())
    except SQLAlchemyError as db_err:  # the database is away too: the stale alert will tell
        log.warning("mailbox failure not noted: %s", type(db_err).__name__)


def token_expiry_recorder(db: Database) -> Callable[[str, datetime], None]:
    """``note(mailbox, expires_at)``: when a mailbox's new OAuth 2.0 token runs out, for
    ``status`` and ``mappa_intake_mailbox_token_expiry_timestamp_seconds``. The daemon calls
    it after a pass when the mailbox's token is a new one (``IntakeLoop``); a database that
    does not answer loses only this note."""

    def note(mailbox: str, expires_at: datetime) -> None:
        try:
            with db.session() as session:
                health.note_token_expiry(session, mailbox, expires_at)
        except SQLAlchemyError as err:
            log.warning("token expiry not noted: %s", type(err).__name__)

    return note
