"""Exactly once, whatever happens to the process: the daemon is killed with SIGKILL at random
moments, at least 200 times, while mail keeps arriving in a real Dovecot; then every message
is in the ledger exactly once, as one case or one quarantine entry, and none is left behind.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from tests.intake import imap_tools
from tests.intake.outcomes import numbered_message, outcomes
from tests.intake.site import Site
from tests.servers import Dovecot

pytestmark = pytest.mark.slow

KILLS = int(os.environ.get("MAPPA_SIGKILL_KILLS", "200"))
MESSAGES = 300
UNTRUSTED_EVERY = 10  # one message in ten comes from a domain off the allow-list
# Long enough for some kills to land after start-up (about a second of imports), short
# enough for others to land during it; the seed makes a failure repeatable.
KILL_AFTER_SECONDS = (0.3, 2.5)
SEED = 20261123


def _message(n: int) -> bytes:
    return numbered_message("sigkill", n, UNTRUSTED_EVERY)


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    imap_tools.empty(dovecot)
    site = Site(tmp_path / "site", f"sqlite:///{tmp_path / 'site' / 'var' / 'mappa.db'}", dovecot)
    rng = random.Random(SEED)
    delivered = 0
    for kill in range(KILLS):
        # Mail keeps arriving between the kills, so most kills land mid-intake.
        share = (MESSAGES * (kill + 1)) // KILLS
        while delivered < share:
            imap_tools.append(dovecot, "INBOX", _message(delivered))
            delivered += 1
        daemon = site.start_daemon()
        time.sleep(rng.uniform(*KILL_AFTER_SECONDS))
        assert daemon.poll() is None, "the daemon stopped by itself"
        daemon.kill()
        daemon.wait()
    assert delivered == MESSAGES
    finish = site.run_once()
    assert finish.code == 0, finish.stderr
    _assert_exactly_once(site, dovecot)


def _assert_exactly_once(site: Site, dovecot: Dovecot) -> None:
    found = outcomes(site)
    per_message = found.per_message
    expected = {f"<sigkill.{n}@police.scot>" for n in range(MESSAGES)}
    lost = expected - set(per_message)
    duplicated = {m for m, count in per_message.items() if count > 1}
    print(f"\n{KILLS} kills, {MESSAGES} messages: {len(lost)} lost, {len(duplicated)} duplicated")
    assert lost == set()
    assert duplicated == set()
    found.check_each_once(expected)
    untrusted = {f"<sigkill.{n}@police.scot>" for n in range(0, MESSAGES, UNTRUSTED_EVERY)}
    assert {m for m in expected if found.held[m]} == untrusted
    good = MESSAGES - len(untrusted)
    assert found.cases == good
    assert imap_tools.count(dovecot, "INBOX") == 0
    assert imap_tools.count(dovecot, "Processed") == good
    assert imap_tools.count(dovecot, "Quarantine") == len(untrusted)
