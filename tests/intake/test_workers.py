"""Three daemons on one PostgreSQL database and two mailboxes of a real Dovecot share the
work without a coordinator: one reader per mailbox (its lease), the parsing of what was
claimed taken by whichever daemon is free (``FOR UPDATE SKIP LOCKED``). One of the three is
killed with SIGKILL at random, again and again, and started again, while mail arrives in both
mailboxes; afterwards every message is handled exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.intake import imap_tools
from tests.intake.mail import auth_results, fixture_message, with_headers
from tests.intake.site import Site
from tests.servers import DOVECOT_NORTH_USER, DOVECOT_USER, Dovecot, Postgres

pytestmark = pytest.mark.slow

WORKERS = 3
KILLS = int(os.environ.get("MAPPA_WORKER_KILLS", "40"))
MESSAGES = 160  # half to each mailbox
UNTRUSTED_EVERY = 8
KILL_AFTER_SECONDS = (0.5, 3.0)
SEED = 20261124
USERS = (DOVECOT_USER, DOVECOT_NORTH_USER)


def _message(n: int) -> bytes:
    raw = with_headers(
        fixture_message("notification-in-text-body.eml"), Message_ID=f"<workers.{n}@police.scot>"
    )
    if n % UNTRUSTED_EVERY == 0:
        raw = with_headers(
            raw,
            From="Pat Gowan <pat.gowan@example.com>",
            Authentication_Results=auth_results("dmarc=pass header.from=example.com"),
        )
    return raw


def test_three_daemons_killed_at_random_handle_every_message_once(
    dovecot: Dovecot, postgres: Postgres, tmp_path: Path
) -> None:
    for user in USERS:
        imap_tools.empty(dovecot, user)
    url = postgres.create_database(f"workers{os.getpid()}")
    site = Site(tmp_path / "site", url, dovecot)
    site.settings["mailbox"] = {"wait_seconds": 2.0}
    site.write_config()
    with site.config.open("a") as config:
        config.write(f"[[mailboxes]]\nusername = {DOVECOT_NORTH_USER!r}\n")
    rng = random.Random(SEED)
    daemons = [site.start_daemon() for _ in range(WORKERS)]
    delivered = 0
    try:
        for kill in range(KILLS):
            share = (MESSAGES * (kill + 1)) // KILLS
            while delivered < share:
                imap_tools.append(dovecot, "INBOX", _message(delivered), user=USERS[delivered % 2])
                delivered += 1
            time.sleep(rng.uniform(*KILL_AFTER_SECONDS))
            victim = rng.randrange(WORKERS)
            assert daemons[victim].poll() is None, "a daemon stopped by itself"
            daemons[victim].kill()
            daemons[victim].wait()
            daemons[victim] = site.start_daemon()
        _wait_until_done(site, MESSAGES)
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        for daemon in daemons:
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
    finish = site.run_once()
    assert finish.code == 0, finish.stderr
    _assert_exactly_once(site, dovecot)


def _wait_until_done(site: Site, expected: int, timeout: float = 300) -> None:
    engine = sa.create_engine(site.database_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as db:
                done = db.execute(
                    sa.text("SELECT COUNT(*) FROM inbound_message WHERE moved_at IS NOT NULL")
                ).scalar_one()
            if done >= expected:
                return
            time.sleep(1)
    finally:
        engine.dispose()


def _assert_exactly_once(site: Site, dovecot: Dovecot) -> None:
    engine = sa.create_engine(site.database_url)
    with engine.connect() as db:
        rows = db.execute(
            sa.text("SELECT message_id, state, mailbox, taken_by FROM inbound_message")
        ).all()
        cases_per_message = dict(
            db.execute(
                sa.text(
                    "SELECT i.message_id, COUNT(DISTINCT f.case_id) FROM inbound_message i"
                    " JOIN form f ON f.inbound_id = i.id GROUP BY i.message_id"
                )
            ).all()
        )
        held = Counter(
            message_id
            for (message_id,) in db.execute(
                sa.text(
                    "SELECT i.message_id FROM quarantine_entry q"
                    " JOIN inbound_message i ON i.id = q.inbound_id"
                )
            ).all()
        )
        acknowledgements = Counter(
            case_id
            for (case_id,) in db.execute(
                sa.text("SELECT case_id FROM outbound_message WHERE kind = 'acknowledgement'")
            ).all()
        )
        cases = db.execute(sa.text('SELECT COUNT(*) FROM "case"')).scalar_one()
    engine.dispose()
    per_message = Counter(message_id for message_id, *_ in rows)
    expected = {f"<workers.{n}@police.scot>" for n in range(MESSAGES)}
    readers = {taken_by.split(":")[1] for *_, taken_by in rows if taken_by}
    print(
        f"\n{KILLS} kills of {WORKERS} daemons, {MESSAGES} messages in 2 mailboxes:"
        f" {len(expected - set(per_message))} lost,"
        f" {sum(1 for c in per_message.values() if c > 1)} duplicated,"
        f" read by {len(readers)} processes"
    )
    assert set(per_message) == expected
    assert all(count == 1 for count in per_message.values())
    states = {message_id: state for message_id, state, *_ in rows}
    for message_id in expected:
        as_case = cases_per_message.get(message_id, 0)
        assert (as_case, held[message_id]) in ((1, 0), (0, 1)), message_id
        assert states[message_id] == ("processed" if as_case else "quarantined")
    assert len({mailbox for _, _, mailbox, _ in rows}) == 2
    untrusted = {f"<workers.{n}@police.scot>" for n in range(0, MESSAGES, UNTRUSTED_EVERY)}
    assert {m for m in expected if held[m]} == untrusted
    assert cases == MESSAGES - len(untrusted)
    assert set(acknowledgements.values()) == {1} and len(acknowledgements) == cases
    # The work was shared: more processes than mailboxes read messages.
    assert len(readers) > 2
    for user in USERS:
        assert imap_tools.count(dovecot, "INBOX", user) == 0
    both = sum(imap_tools.count(dovecot, "Processed", user) for user in USERS)
    assert both == cases
    assert sum(imap_tools.count(dovecot, "Quarantine", user) for user in USERS) == len(untrusted)
