"""What the stateful commands share: the settings in force, the database (migrated), and,
for those that process mail, the message processor. Built once at start."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from app.settings import Settings
from app.wiring import LOCAL_ZONE

if TYPE_CHECKING:
    from intake.processing import Clock, MessageProcessor
    from records.database import Database


def make_clock(start: datetime | None) -> Clock:
    """The real clock, or one that starts at ``start`` and runs on from there (--now)."""
    if start is None:
        return lambda: datetime.now(LOCAL_ZONE)
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


def open_database(settings: Settings) -> Database:
    from app.wiring import database_url_from
    from records.database import Database

    database = Database(database_url_from(settings))
    database.migrate()
    return database


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    db: Database
    processor: MessageProcessor


def open_runtime(settings: Settings, environ: Mapping[str, str], clock: Clock) -> Runtime:
    from app.wiring import casework_from, screening_from, sealer_from
    from intake.casework import Casework
    from intake.processing import MessageProcessor

    sealer = sealer_from(settings, environ)
    policy = screening_from(settings)
    casework = Casework(casework_from(settings), sealer)
    db = open_database(settings)
    return Runtime(settings, db, MessageProcessor(db, casework, policy, clock=clock))
