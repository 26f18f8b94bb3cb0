"""What the stateful commands share: the settings in force, the database (migrated), and,
for those that process mail, the message processor. Built once at start."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from app.settings import Settings
from app.wiring import LOCAL_ZONE

if TYPE_CHECKING:
    from intake.processing import Clock, MessageProcessor
    from records.database import Database
    from records.sealing import Sealer
    from responders.chasing import Chaser
    from responders.decisions import DecisionPolicy
    from responders.sender import OutboxSender


def open_sealed_state(config: Path | None) -> tuple[Settings, Sealer, Database]:
    """The settings, the storage keyring and the database, for a command that reads sealed
    messages; ConfigError, RecordsError or DBAPIError when any cannot be had."""
    import os

    from app.settings import load
    from app.wiring import sealer_from

    settings = load(config)
    return settings, sealer_from(settings, os.environ), open_database(settings)


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


def open_runtime(
    settings: Settings,
    environ: Mapping[str, str],
    clock: Clock,
    wake: Callable[[], None] = lambda: None,
) -> Runtime:
    """``wake`` is called when intake queued a reply (the sender need not wait its turn)."""
    from app.wiring import casework_from, reply_settings_from, screening_from, sealer_from
    from intake.casework import Casework
    from intake.processing import MessageProcessor
    from responders.receipts import AutoReplies

    sealer = sealer_from(settings, environ)  # the key in force and the previous keys
    policy = screening_from(settings)
    casework = Casework(casework_from(settings), sealer)
    replies = AutoReplies(reply_settings_from(settings).sender, wake)
    db = open_database(settings)
    processor = MessageProcessor(db, casework, policy, clock=clock, replies=replies)
    return Runtime(settings, db, processor)


def decision_policy(settings: Settings) -> DecisionPolicy:
    from app.wiring import reply_settings_from, triage_from
    from responders.decisions import DecisionPolicy

    triage, calendar = triage_from(settings)
    return DecisionPolicy(reply_settings_from(settings), triage, calendar)


def open_sending(
    runtime: Runtime, environ: Mapping[str, str], stop: Callable[[], bool]
) -> tuple[Chaser, OutboxSender]:
    """The chaser and the outbox sender, on the runtime's database and clock."""
    from app.wiring import mailbox_from, transport_from
    from responders.chasing import Chaser
    from responders.context import ContextBuilder
    from responders.replies import ReplyComposer
    from responders.sender import OutboxSender
    from responders.templates import Templates

    settings = runtime.settings
    policy = decision_policy(settings)
    replies = policy.replies
    sealer = runtime.processor.sealer
    composer = ReplyComposer(
        replies,
        Templates(replies.templates),
        ContextBuilder(replies, policy.triage, policy.calendar),
        sealer,
    )
    sent_folder = str(settings["mailbox.sent_folder"])
    sender = OutboxSender(
        runtime.db,
        composer,
        transport_from(settings, environ),
        replies,
        sealer,
        clock=runtime.processor.clock,
        # A connection of the sender's own: IMAP connections are not shared between threads.
        sent_copies=mailbox_from(settings, environ, runtime.db) if sent_folder else None,
        sent_folder=sent_folder,
        stop=stop,
    )
    return Chaser(runtime.db, replies, clock=runtime.processor.clock), sender
