"""Several daemons on one PostgreSQL database: throughput with 1, 2 and 4, and 10,000 messages.

    .venv/bin/python bench/scale.py [--messages 800] [--workers 1,2,4] [--big 10000]

The real daemon (``mappa-intake run``, not ``--once``; separate processes) against a throwaway
PostgreSQL started here as the tests start theirs and restarted with ``fsync`` on (as
bench/console.py does), so every commit costs what it costs in service. The mail is in two
local Maildir mailboxes (``[mailbox]`` var/mail/south and a ``[[mailboxes]]`` table for
var/mail/north), so that seeding 10,000 messages is quick and the figures measure mappa-intake,
not an IMAP server (bench/intake.py measures the daemon against a real Dovecot).

The messages are the fixture messages other than the two scans (OCR is measured by
bench/parse.py): forms in the body, PDF and Word forms attached, with their documents; each
copy has a fresh person (as bench/intake.py makes them) and its own Message-ID (set with
tests.intake.mail.with_headers); every tenth comes from an untrusted sender and is quarantined.
Half go to each mailbox. Acknowledgements are composed, sealed and written (the default
Maildir transport) for every case, as in service (the per-recipient rate is raised: the
fixtures come from a few addresses).

1. **Scaling**: for each count in ``--workers``, a fresh database and fresh mailboxes, a
   ``run --once`` on the empty mailboxes (migrations, timed apart), ``--messages`` messages
   delivered, then that many daemons started at once; the time runs from their start until
   the ledger has every message processed or quarantined and moved out of its inbox
   (``inbound_message.moved_at``). Then SIGTERM. Prints messages per second, the speed-up
   over the first count, which processes parsed how many (``inbound_message.taken_by``), who
   held each mailbox's lease (sampled as it ran), the CPU the daemons and PostgreSQL used per
   message, the PostgreSQL transactions per message, and how busy the machine's cores were
   (other work on the machine shows there).
2. **Big run**: ``--big`` messages across the two mailboxes with ``--big-workers`` daemons, the
   same way; total time, messages per second, p50/p95 from claim to case (the case's
   ``created_at`` minus the message's ``received_at``: the messages are all in the mailboxes
   before the daemons start, so delivery to case would only measure the queue), and checks
   that each message was handled exactly once.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # as bench/intake.py: the repository root, not bench/, comes first

import psycopg  # noqa: E402

from bench.console import _scalar, machine, restart_durable  # noqa: E402
from bench.intake import _samples, fresh_copy  # noqa: E402
from intake import maildir  # noqa: E402
from tests.intake.mail import from_untrusted_sender, with_headers  # noqa: E402
from tests.intake.site import Site  # noqa: E402
from tests.servers import Postgres, postgres_server  # noqa: E402

MAILBOXES = ("south", "north")  # var/mail/<name>: [mailbox], then one [[mailboxes]] table
UNTRUSTED_EVERY = 10
WAIT_SECONDS = 0.5  # mailbox.wait_seconds: a Maildir is polled this often when idle
POLL_SECONDS = 0.5  # how often this script looks at the ledger
SEED = 20261125


# -- Messages ------------------------------------------------------------------------------


def messages(count: int, first: int, rng: random.Random) -> Iterator[bytes]:
    """``count`` copies of the fixture messages in turn, numbered from ``first``: a fresh
    person, a Message-ID of its own; every ``UNTRUSTED_EVERY``-th from an untrusted sender."""
    samples = _samples()
    for n in range(first, first + count):
        raw = with_headers(fresh_copy(samples[n % len(samples)], n, rng), Message_ID=message_id(n))
        yield from_untrusted_sender(raw) if n % UNTRUSTED_EVERY == 0 else raw


def message_id(n: int) -> str:
    return f"<scale.{n}@police.scot>"


# -- Measuring the machine -----------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1


def machine_ticks() -> tuple[int, int]:
    """(busy, all) CPU ticks of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values[:8]) - idle, sum(values[:8])


def postgres_cpu(pg: Postgres) -> float:
    """CPU seconds of the PostgreSQL server: the postmaster, its live children, and the
    children it has reaped (the connections that closed)."""
    pid = int((pg.folder / "data" / "postmaster.pid").read_text().split()[0])
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        # fields[0] is the state (field 3 of stat(5)): ppid, utime, stime, cutime, cstime
        # are fields 4, 14, 15, 16, 17.
        if int(entry.name) == pid:
            total += sum(int(v) for v in fields[11:15])
        elif int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def _open(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """A connection of this script's own, in autocommit: its looks cost the daemons nothing."""
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Counters:
    """What the machine, the daemons and PostgreSQL had used at one moment."""

    busy: int
    ticks: int
    daemons: float
    postgres: float
    transactions: int
    wal_syncs: int

    @classmethod
    def now(cls, pg: Postgres, url: str) -> Counters:
        with _open(url) as db:
            db.execute("SELECT pg_stat_clear_snapshot()")
            transactions = int(
                _scalar(
                    db,
                    "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
                )
            )
            wal_syncs = int(_scalar(db, "SELECT wal_sync FROM pg_stat_wal"))
        busy, ticks = machine_ticks()
        return cls(busy, ticks, children_cpu(), postgres_cpu(pg), transactions, wal_syncs)


def commit_cost(pg: Postgres) -> float:
    """Milliseconds per one-row INSERT committed on its own (fsync on), over 500 of them."""
    with _open(pg.create_database("bench_commit")) as db:
        db.execute("CREATE TABLE t (n int)")
        began = time.perf_counter()
        for n in range(500):
            db.execute("INSERT INTO t VALUES (%s)", (n,))
        elapsed = time.perf_counter() - began
    return elapsed / 500 * 1000


# -- One run -------------------------------------------------------------------------------


@dataclass
class Result:
    workers: int
    messages: int
    seconds: float  # from the daemons' start until every message was moved
    startup: float  # from their start until the first claim
    claimed_after: float  # from their start until the last claim
    parsed_by: dict[int, int]  # daemon number -> messages it parsed
    leases: dict[str, list[int]]  # mailbox -> daemon numbers seen holding its lease, in turn
    daemon_cpu: float
    startup_cpu: float  # one daemon's start-up: a run --once on the empty mailboxes
    postgres_cpu: float
    transactions: int
    wal_syncs: int
    busy_cores: float
    window: float  # seconds over which busy_cores was counted (the daemons' stop included)
    acknowledged: int  # acknowledgements sent by the time the last message moved
    latencies: list[float] = field(default_factory=list)  # claim to case, seconds
    checks: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def work_cpu(self) -> float:
        """The daemons' CPU seconds, their start-up left out."""
        return self.daemon_cpu - self.workers * self.startup_cpu

    @property
    def ours_cores(self) -> float:
        return (self.daemon_cpu + self.postgres_cpu) / self.window


def make_site(folder: Path, url: str) -> Site:
    site = Site(
        folder,
        url,
        settings={
            "mailbox": {"path": f"var/mail/{MAILBOXES[0]}", "wait_seconds": WAIT_SECONDS},
            "health": {"port": 0},  # several daemons on one host: no /metrics port each
            "outgoing": {"per_recipient_per_hour": 1_000_000},
        },
    )
    with site.config.open("a") as config:
        for name in MAILBOXES[1:]:
            config.write(f'[[mailboxes]]\npath = "var/mail/{name}"\n')
    return site


def seed(site: Site, count: int, first: int, rng: random.Random) -> float:
    began = time.monotonic()
    for n, raw in enumerate(messages(count, first, rng)):
        maildir.deliver(site.folder / "var" / "mail" / MAILBOXES[n % len(MAILBOXES)], raw)
    return time.monotonic() - began


def run(
    pg: Postgres, root: Path, name: str, workers: int, count: int, first: int, rng: random.Random
) -> Result:
    url = pg.create_database(name)
    folder = root / name
    site = make_site(folder, url)
    cpu = children_cpu()
    ready = site.run_once()  # migrations and the mailboxes' folders, before the clock starts
    startup_cpu = children_cpu() - cpu
    assert ready.code == 0, ready.stderr[-2000:]
    seeded = seed(site, count, first, rng)
    print(f"  {name}: {count} messages delivered to the two Maildirs in {seeded:.0f} s")
    before = Counters.now(pg, url)
    logs = [(folder / f"daemon-{n + 1}.log").open("wb") for n in range(workers)]
    began_wall = time.time()
    began = time.monotonic()
    daemons = [site.start_daemon(stderr=log.fileno()) for log in logs]
    numbers = {daemon.pid: n + 1 for n, daemon in enumerate(daemons)}
    holders: dict[str, list[int]] = {}
    try:
        with _open(url) as db:
            while True:
                moved = int(
                    _scalar(db, "SELECT COUNT(*) FROM inbound_message WHERE moved_at IS NOT NULL")
                )
                _note_holders(db, numbers, holders)
                if moved >= count:
                    break
                _check_alive(daemons, logs, time.monotonic() - began, count)
                time.sleep(POLL_SECONDS)
            seconds = time.monotonic() - began
            acknowledged = int(
                _scalar(
                    db,
                    "SELECT COUNT(*) FROM outbound_message"
                    " WHERE kind = 'acknowledgement' AND state IN ('sent', 'filing', 'filed')",
                )
            )
    finally:
        _stop(daemons)
        for log in logs:
            log.close()
    after = Counters.now(pg, url)
    result = Result(
        workers=workers,
        messages=count,
        seconds=seconds,
        startup=0.0,
        claimed_after=0.0,
        parsed_by={},
        leases=holders,
        daemon_cpu=after.daemons - before.daemons,
        startup_cpu=startup_cpu,
        postgres_cpu=after.postgres - before.postgres,
        transactions=after.transactions - before.transactions,
        wal_syncs=after.wal_syncs - before.wal_syncs,
        busy_cores=(after.busy - before.busy) / max(1, after.ticks - before.ticks) * CORES,
        window=(after.ticks - before.ticks) / TICKS / CORES,
        acknowledged=acknowledged,
    )
    _read_ledger(site, result, numbers, began_wall, first)
    with pg.connect() as server:
        server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    shutil.rmtree(folder, ignore_errors=True)
    return result


def _note_holders(
    db: psycopg.Connection[tuple[Any, ...]], numbers: dict[int, int], holders: dict[str, list[int]]
) -> None:
    for mailbox, holder in db.execute("SELECT mailbox, holder FROM mailbox_lease").fetchall():
        if not str(mailbox).startswith("maildir:"):
            continue  # not one of the bench's mailboxes
        number = numbers.get(_pid(str(holder)), 0)
        seen = holders.setdefault(Path(str(mailbox)).name, [])
        if number and (not seen or seen[-1] != number):
            seen.append(number)


def _pid(holder: str) -> int:
    """The process id in a holder (records.leases.process_holder: host:pid:token)."""
    part = holder.split(":")[1] if holder.count(":") >= 2 else ""
    return int(part) if part.isdigit() else 0


def _check_alive(
    daemons: list[subprocess.Popen[bytes]], logs: Sequence[IO[bytes]], waited: float, count: int
) -> None:
    for n, daemon in enumerate(daemons):
        if daemon.poll() is not None:
            logs[n].flush()
            tail = Path(logs[n].name).read_bytes()[-3000:].decode(errors="replace")
            raise RuntimeError(f"daemon {n + 1} stopped (exit {daemon.returncode}):\n{tail}")
    if waited > max(900.0, count * 0.5):
        raise TimeoutError(f"the daemons did not take {count} messages in {waited:.0f} s")


def _stop(daemons: list[subprocess.Popen[bytes]]) -> None:
    for daemon in daemons:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
    for daemon in daemons:
        try:
            code = daemon.wait(timeout=120)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
            raise RuntimeError("a daemon did not stop within 120 s of SIGTERM") from None
        if code != 0:
            raise RuntimeError(f"a daemon ended with exit status {code} after SIGTERM")


def _read_ledger(
    site: Site, result: Result, numbers: dict[int, int], began_wall: float, first: int
) -> None:
    """Who parsed what, when the claims came, the claim-to-case latencies, and the checks
    that every message was handled exactly once."""
    count = result.messages
    with _open(site.database_url) as db:
        rows = db.execute(
            "SELECT message_id, state, taken_by, EXTRACT(EPOCH FROM received_at)"
            " FROM inbound_message"
        ).fetchall()
        latencies = [
            float(seconds)
            for (seconds,) in db.execute(
                "SELECT EXTRACT(EPOCH FROM MIN(c.created_at) - i.received_at)"
                ' FROM inbound_message i JOIN form f ON f.inbound_id = i.id JOIN "case" c'
                " ON c.id = f.case_id GROUP BY i.id"
            ).fetchall()
        ]
        with_case = int(
            _scalar(
                db,
                "SELECT COUNT(DISTINCT i.id) FROM inbound_message i JOIN form f"
                " ON f.inbound_id = i.id WHERE i.state = 'processed'",
            )
        )
        held = {
            str(message)
            for (message,) in db.execute(
                "SELECT i.message_id FROM quarantine_entry q JOIN inbound_message i"
                " ON i.id = q.inbound_id"
            ).fetchall()
        }
        held_twice = int(
            _scalar(
                db,
                "SELECT COUNT(*) FROM (SELECT inbound_id FROM quarantine_entry"
                " GROUP BY inbound_id HAVING COUNT(*) > 1) twice",
            )
        )
        cases = int(_scalar(db, 'SELECT COUNT(*) FROM "case"'))
    claimed_at = sorted(float(r[3]) for r in rows)
    result.startup = claimed_at[0] - began_wall
    result.claimed_after = claimed_at[-1] - began_wall
    result.parsed_by = dict(
        sorted(Counter(numbers.get(_pid(str(r[2] or "")), 0) for r in rows).items())
    )
    result.latencies = sorted(latencies)
    ids = Counter(str(r[0]) for r in rows)
    expected = {message_id(n) for n in range(first, first + count)}
    untrusted = {message_id(n) for n in range(first, first + count) if n % UNTRUSTED_EVERY == 0}
    states = Counter(str(r[1]) for r in rows)
    inboxes = sum(
        len(list((site.folder / "var" / "mail" / name / sub).iterdir()))
        for name in MAILBOXES
        for sub in ("new", "cur")
    )
    result.checks = [
        (f"ledger rows == {count}", len(rows) == count),
        ("no Message-ID twice in the ledger", all(n == 1 for n in ids.values())),
        ("every message delivered is in the ledger", set(ids) == expected),
        (
            f"processed {states['processed']} + quarantined {states['quarantined']} == {count}",
            states["processed"] + states["quarantined"] == count,
        ),
        (
            f"every processed message on a case ({with_case}; {cases} cases: a message"
            " with two forms about two people opens two)",
            with_case == states["processed"],
        ),
        (
            f"quarantined exactly the {len(untrusted)} from untrusted senders, each once",
            held == untrusted and held_twice == 0,
        ),
        ("both inboxes empty", inboxes == 0),
    ]


# -- Report --------------------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    return values[int(fraction * (len(values) - 1))]


def describe(result: Result) -> str:
    parsed = ", ".join(
        f"daemon {n} {c}" if n else f"unknown {c}" for n, c in result.parsed_by.items()
    )
    leases = "; ".join(
        f"{mailbox}: " + " -> ".join(f"daemon {n}" for n in holders)
        for mailbox, holders in sorted(result.leases.items(), reverse=True)
    )
    return (
        f"    parsed by {len(result.parsed_by)} processes ({parsed}); leases held by {leases};"
        f" first claim {result.startup:.1f} s after start, last {result.claimed_after:.1f} s;"
        f" {result.acknowledged} acknowledgements sent by the end"
    )


def table(results: list[Result], base: float | None = None, *, legend: bool = True) -> str:
    """One row per run; ``base``: the messages per second the speed-up is against."""
    columns = (
        ("daemons", 7),
        ("messages", 8),
        ("time s", 7),
        ("msg/s", 6),
        ("speed-up", 8),
        ("1st claim s", 11),
        ("all claimed s", 13),
        ("daemon CPU ms/msg", 17),
        ("PG CPU ms/msg", 13),
        ("xacts/msg", 9),
        ("WAL syncs/msg", 13),
        ("cores busy: ours + other", 24),
    )
    lines = [" ".join(f"{name:>{width}}" for name, width in columns)]
    base = base or results[0].rate
    for r in results:
        cells = (
            r.workers,
            r.messages,
            f"{r.seconds:.1f}",
            f"{r.rate:.1f}",
            f"{r.rate / base:.2f}x",
            f"{r.startup:.1f}",
            f"{r.claimed_after:.1f}",
            f"{r.work_cpu / r.messages * 1000:.0f}",
            f"{r.postgres_cpu / r.messages * 1000:.1f}",
            f"{r.transactions / r.messages:.1f}",
            f"{r.wal_syncs / r.messages:.1f}",
            f"{r.ours_cores:.2f} + {max(0.0, r.busy_cores - r.ours_cores):.2f}",
        )
        lines.append(
            " ".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, columns, strict=True))
        )
    if not legend:
        return "\n".join(lines)
    startup = statistics.mean(r.startup_cpu for r in results)
    lines.append(
        "time: from the daemons' start until every message was moved out of its inbox;"
        f" daemon CPU: their start-up left out ({startup:.1f} s CPU each, measured as a"
        " run --once on the empty mailboxes); xacts: PostgreSQL transactions, read-only"
        " ones included; WAL syncs: fsyncs of the WAL (commits that wait for the disk);"
        " cores busy: the whole machine's, from /proc/stat, ours being the daemons' and"
        " PostgreSQL's CPU"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=800, help="per scaling run")
    parser.add_argument("--workers", default="1,2,4", help="daemon counts, e.g. 1,2,4")
    parser.add_argument("--big", type=int, default=10_000, help="messages in the big run (0: skip)")
    parser.add_argument("--big-workers", type=int, default=2, help="daemons in the big run")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    rng = random.Random(SEED)
    began = time.monotonic()
    with (
        postgres_server() as pg,
        tempfile.TemporaryDirectory(prefix="mappa-bench-scale-") as folder,
    ):
        durable = restart_durable(pg)
        print(f"bench/scale.py on {machine(pg)}")
        load = os.getloadavg()
        print(
            f"PostgreSQL with fsync on: one committed one-row INSERT costs"
            f" {commit_cost(pg):.2f} ms; load average at start {load[0]:.2f}"
        )
        print(
            "mail in two local Maildirs (var/mail/south, var/mail/north), not an IMAP server:"
            " the figures are mappa-intake's"
        )
        root = Path(folder)
        results = []
        first = 0
        for workers in counts:
            results.append(run(pg, root, f"scale_{workers}", workers, args.messages, first, rng))
            print(describe(results[-1]))
            first += args.messages
        if results:
            print(table(results))
        if args.big:
            big = run(pg, root, "scale_big", args.big_workers, args.big, first, rng)
            print(describe(big))
            print(table([big], results[0].rate if results else None, legend=not results))
            p50 = statistics.median(big.latencies)
            p95 = _percentile(big.latencies, 0.95)
            print(
                f"big run: {big.messages} messages, {big.workers} daemons:"
                f" {big.seconds:.0f} s = {big.rate:.1f} messages/s;"
                f" claim to case p50 {p50:.2f} s, p95 {p95:.2f} s, slowest"
                f" {big.latencies[-1]:.2f} s"
            )
            for what, ok in big.checks:
                print(f"  [{'ok' if ok else 'FAILED'}] {what}")
        for r in results:
            failed = [what for what, ok in r.checks if not ok]
            if failed:
                print(f"  {r.workers} daemons: FAILED: {'; '.join(failed)}")
    durable.wait(timeout=30)  # postgres_server() stopped it
    print(f"bench/scale.py took {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
