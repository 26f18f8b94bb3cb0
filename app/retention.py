"""``mappa-intake retention``: remove the stored mail the retention policy says has expired
(records/retention.py says what goes and when), or with ``--dry-run`` say what would go.

The daemon does the same through ``DaemonRetention``: made once at start, its ``run_pass(now)``
called once per intake pass (it runs ``records.retention.purge_expired`` at most every
``DAEMON_EVERY``, and logs counts only).
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from app.exits import EXIT_OK, fail, state_failure
from app.settings import ConfigError, Settings, load

if TYPE_CHECKING:
    from records.database import Database
    from records.retention import PurgeReport, RetentionPolicy

log = logging.getLogger("mappa.retention")

# Passes can come every few seconds (IDLE); expiry is counted in days.
DAEMON_EVERY = timedelta(minutes=10)


def retention_policy(settings: Settings) -> RetentionPolicy:
    from records.retention import RetentionPolicy

    return RetentionPolicy(
        closed_case_days=int(settings["retention.closed_case_days"]),
        decided_case_days=int(settings["retention.decided_case_days"]),
        quarantine_days=int(settings["retention.quarantine_days"]),
    )


class DaemonRetention:
    """Retention inside the daemon: ``run_pass(now)`` once per pass. A database error goes
    up to the pass's own boundary (retried like the rest of the pass)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.policy = retention_policy(settings)
        self._last: datetime | None = None

    def run_pass(self, now: datetime) -> PurgeReport | None:
        """None if it ran less than ``DAEMON_EVERY`` ago (by the daemon's clock)."""
        from records.retention import purge_expired

        if self._last is not None and self._last <= now < self._last + DAEMON_EVERY:
            return None
        self._last = now
        report = purge_expired(self.db, now, self.policy)
        if report.purged:
            log.info(
                "retention: stored mail removed",
                extra={
                    "cases": len(report.cases),
                    "quarantine_entries": len(report.quarantine_entries),
                    "raw_messages": report.raw_messages,
                    "attachments": report.attachments,
                    "replies": report.replies,
                },
            )
        return report


def run_retention(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from app.deciding import os_user
    from app.runtime import open_database
    from app.wiring import local_datetime
    from records.errors import RecordsError
    from records.retention import purge_expired

    try:
        now = local_datetime(args.now) if args.now else datetime.now(UTC)
    except ValueError:
        return fail(f"--now: {args.now!r} is not a date or date-time")
    try:
        settings = load(args.config)
        policy = retention_policy(settings)
        db = open_database(settings)
    except (ConfigError, RecordsError, DBAPIError) as err:
        return state_failure(err)
    try:
        report = purge_expired(db, now, policy, dry_run=args.dry_run, user=f"cli:{os_user()}")
    except DBAPIError as err:
        return state_failure(err)
    finally:
        db.dispose()
    _print(report, now, as_json=args.json)
    return EXIT_OK


def _print(report: PurgeReport, now: datetime, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"at": now.isoformat(), "dry_run": report.dry_run, **report.detail()}))
        return
    verb = "would remove" if report.dry_run else "removed"
    dry = " (dry run: nothing changed)" if report.dry_run else ""
    print(f"retention at {now.isoformat(timespec='minutes')}{dry}")
    print(
        f"{verb}: {report.raw_messages} raw messages, {report.attachments} attachments,"
        f" {report.replies} replies ({report.bytes:,} bytes)"
    )
    print(f"cases: {', '.join(report.cases) or 'none'}")
    entries = ", ".join(str(i) for i in report.quarantine_entries)
    print(f"quarantine entries: {entries or 'none'}")
