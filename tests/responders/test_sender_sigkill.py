"""The outbox sender killed with SIGKILL at random moments (seeded), at least 200 times, while
it sends replies to a real SMTP server (aiosmtpd on loopback) that holds each DATA exchange
open a little, so many kills land inside it.

Shown: every queued reply arrived (none lost), and any reply that arrived more than once did so
only because a DATA exchange of it was begun and cut (the outbox counts those exchanges), with
the same Message-ID each time.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

from sqlmodel import select

from records.tables import OutboundMessage
from tests.intake.site import Site
from tests.responders.outbox_tools import queue_replies
from tests.servers import smtp_sink

KILLS = 200
REPLIES = 600
SEED = 5


def test_sigkill_never_loses_a_reply_and_duplicates_only_inside_data(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    with smtp_sink(data_delay=0.03) as sink:
        site = Site(
            tmp_path / "site",
            f"sqlite:///{tmp_path / 'site' / 'var' / 'mappa.db'}",
            smtp=sink,
            settings={"outgoing": {"per_recipient_per_hour": 100_000}},
        )
        queue_replies(site, sink, REPLIES)
        database = site.database()

        kills = 0
        while kills < KILLS:
            before = len(sink.received())
            daemon = site.start_daemon()
            started = time.monotonic()
            # Kill once sending is under way (or soon after start-up, if all is sent).
            while len(sink.received()) == before and time.monotonic() - started < 4:
                if daemon.poll() is not None:
                    break
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.1))
            os.kill(daemon.pid, signal.SIGKILL)
            daemon.wait()
            kills += 1
        assert site.run_once().code == 0

        received = Counter(r.message["Message-ID"] for r in sink.received())
        with database.session() as session:
            rows = session.exec(select(OutboundMessage).where(OutboundMessage.step > 0)).all()
        database.dispose()

    assert len(rows) == REPLIES
    lost = [r.key for r in rows if received[r.message_id] == 0]
    assert lost == []
    assert {r.state for r in rows} == {"filed"}
    duplicates = 0
    for row in rows:
        extra = received[row.message_id] - 1
        # Each extra copy needs a DATA exchange of its own that was cut before "sent".
        assert extra <= row.data_attempts - 1, (row.key, extra, row.data_attempts)
        duplicates += extra
    assert set(received) == {r.message_id for r in rows}  # nothing else was sent
    print(f"\n{KILLS} kills, {REPLIES} replies, 0 lost, {duplicates} duplicates (inside DATA)")
