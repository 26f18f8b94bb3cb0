"""Intake speed and memory, through a real Dovecot on loopback (started here, as the tests do).

    .venv/bin/python bench/intake.py [--messages 1000] [--latency 100] [--flat 0]

1. **Throughput**: ``--messages`` messages (the fixtures' messages, repeated, each copy with a
   fresh Message-ID and a fresh person: surname, PNC and CHI changed) are appended to the
   inbox; ``mappa-intake run --once`` takes them all. Prints messages per second and the
   daemon's peak RSS. The scanned forms are left out (OCR takes seconds a page and is measured
   by bench/parse.py); every other fixture message is in the mix.
2. **Against the bare work**: the same messages fetched with bare imapclient (one
   ``BODY.PEEK[]`` per UID, as the daemon fetches) plus parsed with bare ``parse_bytes``, in
   this process; the ratio of the daemon's time per message to that.
3. **Latency with IDLE**: the daemon runs; ``--latency`` messages are appended one by one, a
   third of a second apart; delivery-to-case time is the case's creation time minus the
   append time. Prints p50 and p95.
4. **Memory over a long run** (``--flat N``, e.g. 10000): N messages through one daemon
   process, its RSS sampled every second; prints RSS after the first tenth and at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder would come first on the path, and its name would hide
# the intake package: the repository root takes its place.
sys.path[0] = str(ROOT)

import sqlalchemy as sa  # noqa: E402

from intake.envelope import read_headers  # noqa: E402
from tests.intake import imap_tools  # noqa: E402
from tests.intake.site import Site  # noqa: E402
from tests.servers import Dovecot, dovecot_server  # noqa: E402

SKIPPED = ("scan",)  # OCR: measured by bench/parse.py
_SURNAMES = ("ARNOTT", "BALFOUR", "CRAIGIE", "DRUMMOND", "ELPHINSTONE", "FAIRBAIRN", "GEDDES")


def _samples() -> list[tuple[bytes, str, str]]:
    """(raw, surname, pnc) of each fixture message with one form."""
    import json

    found = []
    for path in sorted((ROOT / "fixtures" / "messages").glob("*.eml")):
        if any(word in path.name for word in SKIPPED):
            continue
        expected = json.loads(path.with_suffix(".expected.json").read_text())
        fields = expected["forms"][0]["parse"]["fields"]
        found.append(
            (path.read_bytes(), fields.get("person.surname", ""), fields.get("ids.pnc", ""))
        )
    return found


def fresh_copy(sample: tuple[bytes, str, str], n: int, rng: random.Random) -> bytes:
    """A copy with a new Message-ID and a new person (surname, PNC serial) in the text parts.
    Base64 attachments keep their bytes: their person is the fixture's."""
    raw, surname, pnc = sample
    raw = re.sub(
        rb"Message-ID: <[^>]+>", f"Message-ID: <bench.{n}@police.scot>".encode(), raw, count=1
    )
    if surname:
        raw = raw.replace(surname.encode(), rng.choice(_SURNAMES).encode())
    if pnc:
        raw = raw.replace(
            pnc.encode(), f"{pnc[:3]}{rng.randrange(100000, 999999)}{pnc[-1]}".encode()
        )
    return raw


def _append_all(dovecot: Dovecot, messages: list[bytes]) -> None:
    with imap_tools.client(dovecot) as client:
        for raw in messages:
            client.append("INBOX", raw)


def _site(root: Path, dovecot: Dovecot, name: str) -> Site:
    return Site(root / name, f"sqlite:///{root / name / 'var' / 'mappa.db'}", dovecot)


def throughput(root: Path, dovecot: Dovecot, messages: list[bytes]) -> float:
    imap_tools.empty(dovecot)
    site = _site(root, dovecot, "throughput")
    assert site.run_once().code == 0  # start-up and migrations, timed apart
    began = time.monotonic()
    assert site.run_once().code == 0
    startup = time.monotonic() - began
    _append_all(dovecot, messages)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    began = time.monotonic()
    run = site.run_once()
    elapsed = time.monotonic() - began - startup
    assert run.code == 0, run.stderr[-2000:]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    made = _count(site, "SELECT COUNT(*) FROM inbound_message WHERE state = 'processed'")
    print(
        f"throughput: {len(messages)} messages ({made} made into cases) in {elapsed:.1f} s"
        f" = {len(messages) / elapsed:.1f} messages/s (start-up of {startup:.1f} s left out)"
    )
    print(f"daemon peak RSS: {max(peak, before) / 1024:.0f} MB")
    return elapsed / len(messages)


def bare_work(dovecot: Dovecot, messages: list[bytes]) -> float:
    from parsers.api import ReadOptions, parse_bytes

    imap_tools.empty(dovecot)
    _append_all(dovecot, messages)
    options = ReadOptions(reference_year=datetime.now(UTC).year)
    parse_bytes(messages[0], "warm.eml", "warm", options)  # imports and spaCy's start
    began = time.monotonic()
    with imap_tools.client(dovecot) as client:
        client.select_folder("INBOX")
        for uid in client.search(["ALL"]):
            raw = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
            parse_bytes(raw, "message.eml", "message", options)
    elapsed = time.monotonic() - began
    print(
        f"bare imapclient fetch + parse_bytes: {elapsed:.1f} s"
        f" = {len(messages) / elapsed:.1f} messages/s"
    )
    return elapsed / len(messages)


def latency(root: Path, dovecot: Dovecot, messages: list[bytes]) -> None:
    imap_tools.empty(dovecot)
    site = _site(root, dovecot, "latency")
    site.settings = {"mailbox": {"wait_seconds": 600.0}}  # IDLE, not polling
    site.write_config()
    daemon = site.start_daemon()
    try:
        sent = append_paced(site, dovecot, messages)
        _wait_for(
            lambda: (
                _count(site, "SELECT COUNT(*) FROM inbound_message WHERE state != 'claimed'")
                >= len(messages)
            )
        )
        engine = sa.create_engine(site.database_url)
        with engine.connect() as db:
            rows = db.execute(
                sa.text(
                    "SELECT i.message_id, MIN(c.created_at) FROM inbound_message i"
                    ' JOIN form f ON f.inbound_id = i.id JOIN "case" c ON c.id = f.case_id'
                    " GROUP BY i.message_id"
                )
            ).all()
        engine.dispose()
        delays = sorted(
            _utc(created).timestamp() - sent[message_id] for message_id, created in rows
        )
        p50 = statistics.median(delays)
        p95 = delays[int(0.95 * (len(delays) - 1))]
        print(
            f"delivery to case with IDLE ({len(delays)} messages, one every 1/3 s):"
            f" p50 {p50:.2f} s, p95 {p95:.2f} s"
        )
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)


def append_paced(site: Site, dovecot: Dovecot, messages: list[bytes]) -> dict[str, float]:
    """Once the running daemon has read the mailbox, append the messages one by one, a third
    of a second apart; Message-ID -> when it was appended."""
    _wait_for(
        lambda: (
            _count(site, "SELECT COUNT(*) FROM mailbox_lease WHERE last_read_at IS NOT NULL") > 0
        )
    )
    appended: dict[str, float] = {}
    with imap_tools.client(dovecot) as client:
        for raw in messages:
            message_id = read_headers(raw).message_id
            assert message_id is not None
            appended[message_id] = time.time()
            client.append("INBOX", raw)
            time.sleep(1 / 3)
    return appended


def flat_memory(root: Path, dovecot: Dovecot, messages: list[bytes]) -> None:
    imap_tools.empty(dovecot)
    site = _site(root, dovecot, "flat")
    _append_all(dovecot, messages)
    daemon = site.start_daemon("--once")
    samples: list[tuple[int, int]] = []
    while daemon.poll() is None:
        time.sleep(1)
        rss = _rss_kb(daemon.pid)
        done = _count(site, "SELECT COUNT(*) FROM inbound_message WHERE state != 'claimed'")
        if rss:
            samples.append((done, rss))
    tenth = next(rss for done, rss in samples if done >= len(messages) // 10)
    last = samples[-1][1]
    print(
        f"memory over {len(messages)} messages: RSS {tenth / 1024:.0f} MB after the first tenth,"
        f" {last / 1024:.0f} MB at the end (growth {(last - tenth) / 1024:+.0f} MB);"
        f" peak {max(r for _, r in samples) / 1024:.0f} MB"
    )


def _rss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(found.group(1)) if found else 0


def _count(site: Site, query: str) -> int:
    engine = sa.create_engine(site.database_url)
    try:
        with engine.connect() as db:
            return int(db.execute(sa.text(query)).scalar_one())
    except sa.exc.OperationalError:
        return 0  # the daemon has not made the database yet
    finally:
        engine.dispose()


def _wait_for(condition: Callable[[], bool], timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the daemon did not get there")
        time.sleep(0.2)


def _utc(value: object) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--latency", type=int, default=100)
    parser.add_argument("--flat", type=int, default=0, help="messages for the memory run (0: skip)")
    args = parser.parse_args()
    print(
        f"bench/intake.py on {platform.node()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}"
    )
    rng = random.Random(20261123)
    samples = _samples()
    messages = [fresh_copy(samples[n % len(samples)], n, rng) for n in range(args.messages)]
    root = Path(tempfile.mkdtemp(prefix="mappa-bench-"))
    with dovecot_server() as dovecot:
        ours = throughput(root, dovecot, messages)
        bare = bare_work(dovecot, messages)
        print(
            f"per message: ours {ours * 1000:.0f} ms, bare {bare * 1000:.0f} ms: {ours / bare:.2f}x"
        )
        if args.latency:
            extra = [
                fresh_copy(samples[n % len(samples)], 100_000 + n, rng) for n in range(args.latency)
            ]
            latency(root, dovecot, extra)
        if args.flat:
            many = [
                fresh_copy(samples[n % len(samples)], 200_000 + n, rng) for n in range(args.flat)
            ]
            flat_memory(root, dovecot, many)


if __name__ == "__main__":
    main()
