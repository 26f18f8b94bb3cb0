"""Three daemons on one PostgreSQL database and two mailboxes of a real Dovecot share the
work without a coordinator: one reader per mailbox (its lease), the parsing of what was
claimed taken by whichever daemon is free (``FOR UPDATE SKIP LOCKED``). One of the three is
killed with SIGKILL at random, again and again, and started again, while mail arrives in both
mailboxes; afterwards every message is handled exactly once."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.intake import imap_tools
from tests.intake.outcomes import numbered_message, outcomes
from tests.intake.site import Site, stop_daemons
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
    return numbered_message("workers", n, UNTRUSTED_EVERY)


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
        stop_daemons(daemons)
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
    found = outcomes(site)
    per_message = found.per_message
    expected = {f"<workers.{n}@police.scot>" for n in range(MESSAGES)}
    readers = {taken_by.split(":")[1] for *_, taken_by in found.rows if taken_by}
    print(
        f"\n{KILLS} kills of {WORKERS} daemons, {MESSAGES} messages in 2 mailboxes:"
        f" {len(expected - set(per_message))} lost,"
        f" {sum(1 for c in per_message.values() if c > 1)} duplicated,"
        f" read by {len(readers)} processes"
    )
    found.check_each_once(expected)
    assert len({mailbox for _, _, mailbox, _ in found.rows}) == 2
    untrusted = {f"<workers.{n}@police.scot>" for n in range(0, MESSAGES, UNTRUSTED_EVERY)}
    assert {m for m in expected if found.held[m]} == untrusted
    assert found.cases == MESSAGES - len(untrusted)
    acknowledgements = found.acknowledgements
    assert set(acknowledgements.values()) == {1} and len(acknowledgements) == found.cases
    # The work was shared: more processes than mailboxes read messages.
    assert len(readers) > 2
    for user in USERS:
        assert imap_tools.count(dovecot, "INBOX", user) == 0
    both = sum(imap_tools.count(dovecot, "Processed", user) for user in USERS)
    assert both == found.cases
    assert sum(imap_tools.count(dovecot, "Quarantine", user) for user in USERS) == len(untrusted)
