"""``keys new`` and ``keys rotate``: re-sealing under the key in force what the previous keys
(``storage.previous_keys_env``) sealed; docs/operations.md "Keys" says how keys are changed.
The keyring itself comes from ``app.wiring.sealer_from``."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from app.exits import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, fail, state_failure
from app.settings import ConfigError, Settings

if TYPE_CHECKING:
    from records.database import Database
    from records.keys import KeyCount, Resealed
    from records.sealing import Sealer

# A rotation that finds only rows another transaction holds waits this long for them, this
# many times, before it stops and says what is left (PostgreSQL: SKIP LOCKED).
BUSY_PAUSE_SECONDS = 0.5
BUSY_TRIES = 20
PROGRESS_EVERY = 500  # rows between progress lines


def run_keys(args: argparse.Namespace) -> int:
    if args.keys_command == "new":
        from records.sealing import new_key_text

        print(new_key_text())
        return EXIT_OK
    return _rotate(args)


def _rotate(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from app.runtime import open_sealed_state
    from records.errors import RecordsError

    try:
        settings, sealer, db = open_sealed_state(args.config)
    except (ConfigError, RecordsError, DBAPIError) as err:
        return state_failure(err)
    try:
        return _rotate_all(settings, sealer, db)
    except RecordsError as err:
        return fail(f"keys rotate: {err}", EXIT_PROBLEM)
    except DBAPIError as err:
        return state_failure(err)
    finally:
        db.dispose()


def _rotate_all(settings: Settings, sealer: Sealer, db: Database) -> int:
    from app.deciding import os_user
    from records import keys

    operator = f"cli:{os_user()}"
    with db.session() as session:
        before = keys.census(session)
    print(
        f"key in force: {sealer.key_id}; previous keys: {', '.join(sealer.previous_ids) or 'none'}"
    )
    unknown = [c for c in before if not sealer.opens(c.key_id)]
    if unknown:
        _print_remaining(before, sealer)
        _audit(db, operator, "refused", sealer, unknown=[c.key_id for c in unknown])
        return _refuse(settings, unknown[0].key_id)
    waiting = [c for c in before if c.key_id != sealer.key_id]
    blobs, replies = sum(c.blobs for c in waiting), sum(c.replies for c in waiting)
    if waiting:
        _audit(db, operator, "begun", sealer, blobs=blobs, replies=replies)
    done = keys.Resealed()
    shown, idle = 0, 0
    while True:
        with db.session() as session:
            batch = keys.reseal_batch(session, sealer)
        done.blobs += batch.blobs
        done.replies += batch.replies
        if batch.unknown:
            # Another process sealed with a key this keyring does not hold, meanwhile.
            print(f"re-sealed: {done.blobs} stored blobs, {done.replies} replies")
            with db.session() as session:
                _print_remaining(keys.census(session), sealer)
            _audit(db, operator, "refused", sealer, unknown=batch.unknown, **_counts(done))
            return _refuse(settings, batch.unknown[0])
        if done.rows - shown >= PROGRESS_EVERY:
            shown = done.rows
            print(
                f"re-sealed so far: {done.blobs} stored blobs, {done.replies} replies", flush=True
            )
        if batch.rows:
            idle = 0
            continue
        with db.session() as session:
            left = _left(keys.census(session), sealer)
        if not left or idle >= BUSY_TRIES:
            break
        idle += 1  # what is left is locked by the daemon or the console for a moment
        time.sleep(BUSY_PAUSE_SECONDS)
    with db.session() as session:
        after = keys.census(session)
    print(f"re-sealed: {done.blobs} stored blobs, {done.replies} replies")
    _print_remaining(after, sealer)
    left = _left(after, sealer)
    _audit(db, operator, "done" if not left else "incomplete", sealer, **_counts(done))
    if left:
        print(
            f"mappa-intake: keys rotate: {left} rows were in use by another process: run it again",
            file=sys.stderr,
        )
        return EXIT_PROBLEM
    return EXIT_OK


def _left(census: list[KeyCount], sealer: Sealer) -> int:
    return sum(c.blobs + c.replies for c in census if c.key_id != sealer.key_id)


def _counts(done: Resealed) -> dict[str, int]:
    return {"resealed_blobs": done.blobs, "resealed_replies": done.replies}


def _print_remaining(census: list[KeyCount], sealer: Sealer) -> None:
    others = [c for c in census if c.key_id != sealer.key_id]
    if not others:
        print("remaining under another key: none")
        return
    for count in others:
        known = "a previous key" if sealer.opens(count.key_id) else "UNKNOWN key"
        print(
            f"remaining under {known} {count.key_id}: {count.blobs} stored blobs,"
            f" {count.replies} replies"
        )


def _refuse(settings: Settings, key_id: str) -> int:
    return fail(
        f"keys rotate: stored mail sealed with key {key_id} is opened neither by the key in"
        f" force ({settings['storage.key_env']}) nor by a previous key"
        f" ({settings['storage.previous_keys_env']}): give that key as a previous key;"
        " nothing more was re-sealed",
        EXIT_USAGE,
    )


def _audit(db: Database, operator: str, stage: str, sealer: Sealer, **detail: object) -> None:
    """Key ids only: a key id names a key without saying anything of it."""
    from records.audit import AuditAction, audit

    with db.session() as session:
        audit(
            session,
            datetime.now(UTC),
            operator,
            "",
            AuditAction.KEYS_ROTATE,
            sealer.key_id,
            stage=stage,
            key_in_force=sealer.key_id,
            previous_keys=list(sealer.previous_ids),
            **detail,
        )
