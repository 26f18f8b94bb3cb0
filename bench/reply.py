"""Reply speed: delivery to Dovecot -> acknowledgement at an SMTP server, and the outbox's rate.

    .venv/bin/python bench/reply.py [--messages 500] [--replies 1000]

1. **Acknowledgement latency with IDLE**: the daemon runs against a real Dovecot (IMAPS, started
   here as the tests start theirs) and sends to a real SMTP server (aiosmtpd on loopback);
   ``--messages`` fixture messages (fresh Message-ID and person each, as bench/intake.py makes
   them) are appended one by one, a third of a second apart. Latency is the acknowledgement's
   arrival at the SMTP server minus the append. Prints p50, p95 and the slowest.
2. **Outbox rate**: ``--replies`` replies queued on one case, then ``run --once``: composed,
   sent over SMTP and filed in the Sent folder. Prints replies per second (start-up left out).

The per-recipient hourly rate is raised for the run: the fixture messages come from a few
addresses, and the rate (20 an hour by default) would otherwise be what is measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # as bench/intake.py: the repository root, not bench/, comes first

from bench.intake import (  # noqa: E402
    _count,
    _samples,
    _wait_for,
    append_paced,
    fresh_copy,
)
from tests.intake import imap_tools  # noqa: E402
from tests.intake.site import Site  # noqa: E402
from tests.responders.outbox_tools import queue_replies  # noqa: E402
from tests.servers import Dovecot, SmtpSink, dovecot_server, smtp_sink  # noqa: E402

UNLIMITED: dict[str, dict[str, object]] = {"outgoing": {"per_recipient_per_hour": 1_000_000}}


def acknowledgement_latency(root: Path, dovecot: Dovecot, messages: list[bytes]) -> None:
    imap_tools.empty(dovecot)
    with smtp_sink() as sink:
        site = Site(
            root / "latency",
            f"sqlite:///{root / 'latency' / 'var' / 'mappa.db'}",
            dovecot,
            smtp=sink,
            settings={**UNLIMITED, "mailbox": {"wait_seconds": 600.0}},  # IDLE, not polling
        )
        daemon = site.start_daemon()
        try:
            appended = append_paced(site, dovecot, messages)
            _wait_for(lambda: len(_acknowledged(sink)) >= len(messages), timeout=600)
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
    arrived = _acknowledged(sink)
    delays = sorted(arrived[m] - appended[m] for m in appended if m in arrived)
    p95 = delays[int(0.95 * (len(delays) - 1))]
    print(
        f"delivery to acknowledgement at the SMTP server, IDLE ({len(delays)} messages, one"
        f" every 1/3 s): p50 {statistics.median(delays):.2f} s, p95 {p95:.2f} s,"
        f" slowest {delays[-1]:.2f} s"
    )


def _acknowledged(sink: SmtpSink) -> dict[str, float]:
    """In-Reply-To (the agency's Message-ID) -> when its acknowledgement arrived."""
    found = {}
    for item in sink.received():
        message = item.message
        if message["X-MAPPA-Intake-Loop"] == "acknowledgement":
            found[str(message["In-Reply-To"])] = item.at
    return found


def outbox_rate(root: Path, count: int) -> None:
    with smtp_sink() as sink:
        site = Site(
            root / "rate",
            f"sqlite:///{root / 'rate' / 'var' / 'mappa.db'}",
            smtp=sink,
            settings=UNLIMITED,
        )
        queue_replies(site, sink, count)
        began = time.monotonic()
        run = site.run_once()
        elapsed = time.monotonic() - began
        assert run.code == 0, run.stderr[-2000:]
        assert len(sink.received()) == count
        began = time.monotonic()
        assert site.run_once().code == 0  # nothing left: start-up alone, taken off
        startup = time.monotonic() - began
    elapsed -= startup
    filed = _count(site, "SELECT COUNT(*) FROM outbound_message WHERE state = 'filed'")
    print(
        f"outbox: {count} replies composed, sent over SMTP and filed ({filed} filed, the"
        f" acknowledgement included) in {elapsed:.1f} s = {count / elapsed:.0f} replies/s"
        f" (start-up of {startup:.1f} s left out)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--replies", type=int, default=1000)
    args = parser.parse_args()
    print(
        f"bench/reply.py on {platform.node()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}"
    )
    rng = random.Random(20261124)
    samples = _samples()
    messages = [fresh_copy(samples[n % len(samples)], n, rng) for n in range(args.messages)]
    root = Path(tempfile.mkdtemp(prefix="mappa-bench-reply-"))
    with dovecot_server() as dovecot:
        acknowledgement_latency(root, dovecot, messages)
    outbox_rate(root, args.replies)


if __name__ == "__main__":
    main()
