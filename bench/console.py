"""The console's two main pages with 10,000 cases in PostgreSQL: the queue and the case page.

    .venv/bin/python bench/console.py [--cases 10000] [--requests 200] [--images 50]

1. **Seed**: a throwaway PostgreSQL (started here as the tests start theirs). The fixture
   messages other than the two scans are delivered three times over (fresh Message-ID and
   person each, as bench/intake.py makes them) and taken by the real ``run --once``; the
   second set's cases are then decided ``request_info`` and the third set's as triage proposed
   (accept, record, reject, redirect) through the real decision code, and a second
   ``run --once`` sends those replies. Those 39 cases are the templates: SQL copies them,
   with every row that hangs on them (message, sealed raw bytes and attachments, form, fields,
   proposal, deadlines, decision, replies, chase steps, events), to ``--cases`` in all, each
   copy moved back in time (open cases by days, decided ones by up to four years: dates,
   deadlines and queue keys moved with them), with its own reference, a few of its fields'
   confidences lowered (so the weakest-field sort key varies), and some decided ones closed.
   Three audit entries of earlier views per copy. Then VACUUM ANALYZE (what autovacuum would
   long since have done), and PostgreSQL restarted with ``fsync`` on (the tests' server runs
   without it), so a page view's commits cost what they cost in service.
2. **Measure**: ``mappa-intake console`` serves it on a loopback port; a console user and a
   session are made through records.people, and one keep-alive HTTP client sends, after a
   warm-up, ``--requests`` requests to each of: the queue (open cases), its page 2, the queue
   filtered by agency and state, a deep page of all 10,000 cases, and the case page of random
   cases; and ``--images`` requests for page 1 of a PDF form drawn as PNG. Every response is
   checked (status, the case's reference, the rows and total the database says the page
   should show), so an error page is never timed. Every view writes its audit row, as in
   service. Prints p50, p95 and the slowest per page, against the target: p95 under 200 ms.
"""

from __future__ import annotations

import argparse
import http.client
import io
import math
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # as bench/intake.py: the repository root, not bench/, comes first

import psycopg  # noqa: E402

from bench.intake import _samples, fresh_copy  # noqa: E402
from tests.intake.site import Site  # noqa: E402
from tests.servers import Postgres, free_port, postgres_server  # noqa: E402

TARGET_MS = 200.0
TEMPLATE_SETS = 3  # 0: awaiting decision; 1: information asked for; 2: decided
REDIRECT_TO = "mappa.coordinator@glasgow.gov.uk"
PAGE_SIZE = 50  # console/views/queue.py


# -- Seed ----------------------------------------------------------------------------------


def deliver_templates(site: Site, rng: random.Random) -> dict[int, list[int]]:
    """The fixture messages, three times over, through ``run --once``; set -> inbound ids in
    slot order."""
    samples = _samples()
    for copy in range(TEMPLATE_SETS):
        for slot, sample in enumerate(samples):
            site.deliver(fresh_copy(sample, copy * 100 + slot, rng))
    ran = site.run_once()
    assert ran.code == 0, ran.stderr[-2000:]
    sets: dict[int, list[int]] = {}
    with _connect(site) as db:
        for copy in range(TEMPLATE_SETS):
            ids = []
            for slot in range(len(samples)):
                message_id = f"<bench.{copy * 100 + slot}@police.scot>"
                ids.append(
                    int(
                        _scalar(
                            db, "SELECT id FROM inbound_message WHERE message_id = %s", message_id
                        )
                    )
                )
            sets[copy] = ids
    return sets


def decide_templates(site: Site, sets: dict[int, list[int]]) -> None:
    """Set 1: information asked for; set 2: decided as triage proposed (the real code)."""
    from app.runtime import decision_policy
    from app.settings import load
    from app.wiring import LOCAL_ZONE
    from records import cases as case_records
    from records.tables import Case, CaseState
    from responders.decisions import DecisionRefused, decide

    policy = decision_policy(load(site.config))
    db = site.database()
    try:
        for copy, wanted in ((1, CaseState.AWAITING_INFORMATION), (2, CaseState.DECIDED)):
            with _connect(site) as connection:
                case_ids = [
                    int(row[0])
                    for row in connection.execute(
                        "SELECT DISTINCT case_id FROM form WHERE inbound_id = ANY(%s)"
                        " ORDER BY case_id",
                        (sets[copy],),
                    )
                ]
            for case_id in case_ids:
                for choice in _choices(site, copy, case_id):
                    try:
                        with db.session() as session:
                            case = session.get(Case, case_id)
                            assert case is not None
                            decide(
                                session,
                                case,
                                choice,
                                by="Bench Co-ordinator",
                                now=datetime.now(LOCAL_ZONE),
                                policy=policy,
                            )
                        break
                    except DecisionRefused:
                        continue
                with db.session() as session:
                    case = session.get(Case, case_id)
                    assert case is not None and case.state is wanted, (case_id, case)
                    assert case_records.latest_decision(session, case_id) is not None
    finally:
        db.dispose()
    ran = site.run_once()  # the decisions' replies, sent and filed
    assert ran.code == 0, ran.stderr[-2000:]


def _choices(site: Site, copy: int, case_id: int) -> list[Any]:
    from responders.decisions import Choice

    if copy == 1:
        return [Choice("request_info", reasons=("The current risk management plan.",))]
    with _connect(site) as db:
        row = db.execute(
            "SELECT outcome, level, reasons FROM proposal WHERE case_id = %s ORDER BY id DESC",
            (case_id,),
        ).fetchone()
    assert row is not None
    outcome, level, reasons = row[0], row[1], tuple(row[2] or ())
    why = ("Agreed at the MAPPA screening meeting.",)
    found = []
    if outcome == "redirect":
        found.append(Choice("redirect", redirect_to=REDIRECT_TO))
    elif outcome == "reject":
        found.append(Choice("reject", reasons=reasons or why))
    elif outcome in ("accept", "record"):
        found.append(Choice(outcome, level=level))
    found += [Choice("accept", level=level or 2, reasons=why), Choice("record", level=1)]
    return found


@dataclass(frozen=True)
class Plan:
    """One copy of one template message: its cases' state and how far back in time."""

    round: int
    slot: int
    template_set: int
    state: str
    shift_days: int  # <= 0


def plan(rounds: int, slots: int, rng: random.Random) -> list[Plan]:
    """30% awaiting decision (received in the last 25 days), 10% awaiting information (3-40
    days), 50% decided (20 days to 3 years), 10% closed (4 months to 4 years)."""
    found = []
    for n in range(1, rounds + 1):
        for slot in range(slots):
            r = rng.random()
            if r < 0.30:
                found.append(Plan(n, slot, 0, "", -rng.randint(0, 25)))
            elif r < 0.40:
                found.append(Plan(n, slot, 1, "", -rng.randint(3, 40)))
            elif r < 0.90:
                found.append(Plan(n, slot, 2, "", -rng.randint(20, 3 * 365)))
            else:
                found.append(Plan(n, slot, 2, "closed", -rng.randint(120, 4 * 365)))
    return found


# The copy, in SQL. Ids are given here (each table's largest + a row number) for the rows
# others point at; the rest take their sequence's. ``case_map`` is one row per new case.
COPY_SQL = [
    # A case belongs to one template message (asserted before), a message to 1-2 cases.
    """
    CREATE TEMP TABLE case_map AS
    SELECT x.*, (SELECT MAX(id) FROM "case") + x.k AS new_case,
           NULL::int AS new_inbound, NULL::text AS ref, NULL::timestamp AS received
    FROM (
      SELECT p.n, p.slot, p.state, p.shift, f.inbound_id AS src_inbound, f.case_id AS src_case,
             row_number() OVER (ORDER BY p.n, p.slot, f.case_id) AS k
      FROM bench_plan p
      JOIN bench_seed s ON s.template_set = p.template_set AND s.slot = p.slot
      JOIN (SELECT DISTINCT inbound_id, case_id FROM form) f ON f.inbound_id = s.inbound_id
    ) x WHERE x.k <= %(wanted)s
    """,
    """
    CREATE TEMP TABLE msg_map AS
    SELECT n, slot, src_inbound, shift,
           (SELECT MAX(id) FROM inbound_message) + row_number() OVER (ORDER BY n, slot)
             AS new_inbound
    FROM (SELECT DISTINCT n, slot, src_inbound, shift FROM case_map) m
    """,
    """
    UPDATE case_map c SET new_inbound = m.new_inbound,
                          received = s.received_at + make_interval(days => c.shift)
    FROM msg_map m, "case" s WHERE m.n = c.n AND m.slot = c.slot AND s.id = c.src_case
    """,
    # References numbered by year in order of receipt, after the year's counter.
    """
    WITH numbered AS (
      SELECT c.new_case, EXTRACT(YEAR FROM c.received)::int AS year,
             COALESCE(cc.last, 0) + row_number() OVER (
               PARTITION BY EXTRACT(YEAR FROM c.received) ORDER BY c.received, c.k) AS number
      FROM case_map c LEFT JOIN case_counter cc ON cc.year = EXTRACT(YEAR FROM c.received)
    )
    UPDATE case_map c
    SET ref = 'MAPPA-' || numbered.year || '-'
              || lpad(numbered.number::text, GREATEST(4, length(numbered.number::text)), '0')
    FROM numbered WHERE numbered.new_case = c.new_case
    """,
    """
    INSERT INTO inbound_message (id, mailbox, folder, uidvalidity, uid, message_id, sha256,
      size, from_address, sent_at, delivered_at, received_at, state, attempts, moved_at)
    SELECT m.new_inbound, i.mailbox, i.folder, i.uidvalidity, i.uid || '.' || m.new_inbound,
           replace(i.message_id, '@', '.' || m.new_inbound || '@'), i.sha256, i.size,
           i.from_address, i.sent_at + s.d, i.delivered_at + s.d, i.received_at + s.d,
           i.state, i.attempts, i.moved_at + s.d
    FROM msg_map m JOIN inbound_message i ON i.id = m.src_inbound,
         LATERAL (SELECT make_interval(days => m.shift) AS d) s
    ORDER BY m.new_inbound
    """,
    """
    INSERT INTO stored_blob (inbound_id, kind, name, sha256, size, key_id, sealed)
    SELECT m.new_inbound, b.kind, b.name, b.sha256, b.size, b.key_id, b.sealed
    FROM msg_map m JOIN stored_blob b ON b.inbound_id = m.src_inbound
    ORDER BY m.new_inbound, b.id
    """,
    """
    INSERT INTO "case" (id, ref, state, form_type, category, agency, pnc, chs, cro, chi,
      sps_number, visor_ref, mapps_ref, received_at, created_at, updated_at, next_due,
      next_due_timescale, level, weakest_confidence)
    SELECT c.new_case, c.ref, CASE WHEN c.state = 'closed' THEN 'closed' ELSE s.state END,
           s.form_type, s.category, s.agency, s.pnc, s.chs, s.cro, s.chi, s.sps_number,
           s.visor_ref, s.mapps_ref, s.received_at + d.d, s.created_at + d.d,
           s.updated_at + d.d, s.next_due + c.shift, s.next_due_timescale, s.level,
           s.weakest_confidence
    FROM case_map c JOIN "case" s ON s.id = c.src_case,
         LATERAL (SELECT make_interval(days => c.shift) AS d) d
    ORDER BY c.new_case
    """,
    """
    CREATE TEMP TABLE form_map AS
    SELECT f.id AS src, c.new_case, c.new_inbound, c.shift,
           (SELECT MAX(id) FROM form) + row_number() OVER (ORDER BY c.new_case, f.id) AS new_id
    FROM case_map c JOIN form f ON f.case_id = c.src_case AND f.inbound_id = c.src_inbound
    """,
    """
    INSERT INTO form (id, case_id, inbound_id, source, form_type, warnings, attachments,
      created_at)
    SELECT m.new_id, m.new_case, m.new_inbound, f.source, f.form_type, f.warnings,
           f.attachments, f.created_at + make_interval(days => m.shift)
    FROM form_map m JOIN form f ON f.id = m.src ORDER BY m.new_id
    """,
    # About one field in forty read less surely (0.35-0.95): the weakest-field key varies.
    """
    INSERT INTO form_field (form_id, name, value, confidence, evidence)
    SELECT m.new_id, ff.name, ff.value,
           CASE WHEN (hashtext(m.new_id || ':' || ff.name) & 1023) < 25
                THEN LEAST(ff.confidence,
                           round((0.35 + (hashtext(ff.name || ':' || m.new_id) & 1023)
                                  / 1023.0 * 0.6)::numeric, 3)::float)
                ELSE ff.confidence END,
           ff.evidence
    FROM form_map m JOIN form_field ff ON ff.form_id = m.src ORDER BY m.new_id, ff.id
    """,
    """
    UPDATE "case" c SET weakest_confidence = w.weakest
    FROM (SELECT m.new_case, MIN(ff.confidence) AS weakest FROM form_map m
          JOIN form_field ff ON ff.form_id = m.new_id GROUP BY m.new_case) w
    WHERE c.id = w.new_case
    """,
    """
    CREATE TEMP TABLE proposal_map AS
    SELECT p.id AS src, c.new_case, c.shift,
           (SELECT MAX(id) FROM proposal) + row_number() OVER (ORDER BY c.new_case, p.id)
             AS new_id
    FROM case_map c JOIN proposal p ON p.case_id = c.src_case
    """,
    """
    INSERT INTO proposal (id, case_id, complete, missing, outcome, level, reasons, created_at,
      missing_reasons)
    SELECT m.new_id, m.new_case, p.complete, p.missing, p.outcome, p.level, p.reasons,
           p.created_at + make_interval(days => m.shift), p.missing_reasons
    FROM proposal_map m JOIN proposal p ON p.id = m.src ORDER BY m.new_id
    """,
    # A deadline moved into the past that was still open is missed (as triage would say).
    """
    INSERT INTO deadline (proposal_id, case_id, timescale, start, due, status)
    SELECT m.new_id, m.new_case, d.timescale, d.start + m.shift, d.due + m.shift,
           CASE WHEN d.status = 'open' AND d.due + m.shift < CURRENT_DATE THEN 'missed'
                ELSE d.status END
    FROM proposal_map m JOIN deadline d ON d.proposal_id = m.src ORDER BY m.new_id, d.id
    """,
    """
    CREATE TEMP TABLE decision_map AS
    SELECT d.id AS src, c.new_case, c.shift,
           COALESCE((SELECT MAX(id) FROM decision), 0)
             + row_number() OVER (ORDER BY c.new_case, d.id) AS new_id
    FROM case_map c JOIN decision d ON d.case_id = c.src_case
    """,
    """
    INSERT INTO decision (id, case_id, outcome, level, note, decided_by, decided_at, reasons,
      reply_text)
    SELECT m.new_id, m.new_case, d.outcome, d.level, d.note, d.decided_by,
           d.decided_at + make_interval(days => m.shift), d.reasons, d.reply_text
    FROM decision_map m JOIN decision d ON d.id = m.src ORDER BY m.new_id
    """,
    """
    CREATE TEMP TABLE outbound_map AS
    SELECT o.id AS src, c.new_case, c.new_inbound, c.src_inbound, c.ref, s.ref AS src_ref,
           c.shift,
           (SELECT MAX(id) FROM outbound_message)
             + row_number() OVER (ORDER BY c.new_case, o.id) AS new_id
    FROM case_map c JOIN outbound_message o ON o.case_id = c.src_case
    JOIN "case" s ON s.id = c.src_case
    """,
    """
    INSERT INTO outbound_message (id, key, case_id, inbound_id, decision_id, kind, step,
      recipient, message_id, state, not_before, attempts, data_attempts, key_id, sealed, error,
      created_at, sent_at, filed_at)
    SELECT m.new_id, replace(o.key, m.src_ref || '.', m.ref || '.'), m.new_case,
           CASE WHEN o.inbound_id = m.src_inbound THEN m.new_inbound END, dm.new_id, o.kind,
           o.step, o.recipient, replace(o.message_id, m.src_ref || '.', m.ref || '.'),
           o.state, o.not_before + s.d, o.attempts, o.data_attempts, o.key_id, o.sealed,
           o.error, o.created_at + s.d, o.sent_at + s.d, o.filed_at + s.d
    FROM outbound_map m JOIN outbound_message o ON o.id = m.src
    LEFT JOIN decision_map dm ON dm.src = o.decision_id AND dm.new_case = m.new_case,
    LATERAL (SELECT make_interval(days => m.shift) AS d) s
    ORDER BY m.new_id
    """,
    """
    INSERT INTO chase_step (case_id, request_id, step, kind, due, state, reason, outbox_id)
    SELECT m.new_case, m.new_id, cs.step, cs.kind, cs.due + m.shift, cs.state, cs.reason,
           om.new_id
    FROM outbound_map m JOIN chase_step cs ON cs.request_id = m.src
    LEFT JOIN outbound_map om ON om.src = cs.outbox_id AND om.new_case = m.new_case
    ORDER BY m.new_case, cs.id
    """,
    """
    INSERT INTO event (at, kind, case_id, inbound_id, detail)
    SELECT at, kind, case_id, inbound_id, detail FROM (
      SELECT e.at + make_interval(days => c.shift) AS at, e.kind, c.new_case AS case_id,
             CASE WHEN e.inbound_id = c.src_inbound THEN c.new_inbound END AS inbound_id,
             e.detail, e.id
      FROM case_map c JOIN event e ON e.case_id = c.src_case
      UNION ALL
      SELECT e.at + make_interval(days => m.shift), e.kind, NULL, m.new_inbound, e.detail, e.id
      FROM msg_map m JOIN event e ON e.case_id IS NULL AND e.inbound_id = m.src_inbound
    ) x ORDER BY at, id
    """,
    """
    INSERT INTO audit_entry (at, user_name, role, action, target, detail)
    SELECT c.received + make_interval(days => g), 'a.coordinator', 'coordinator',
           'view_case', c.ref, '{}'::json
    FROM case_map c, generate_series(0, 2) g ORDER BY 1
    """,
    """
    INSERT INTO case_counter (year, last)
    SELECT split_part(ref, '-', 2)::int, MAX(split_part(ref, '-', 3)::int) FROM "case"
    GROUP BY 1
    ON CONFLICT (year) DO UPDATE SET last = GREATEST(case_counter.last, excluded.last)
    """,
]
SEQUENCED = (
    "case",
    "inbound_message",
    "stored_blob",
    "form",
    "form_field",
    "proposal",
    "deadline",
    "decision",
    "outbound_message",
    "chase_step",
    "event",
    "audit_entry",
)


def multiply(site: Site, sets: dict[int, list[int]], cases: int, rng: random.Random) -> None:
    with _connect(site) as db:
        templates = int(_scalar(db, 'SELECT COUNT(*) FROM "case"'))
        per_message = db.execute(
            "SELECT case_id, COUNT(DISTINCT inbound_id) FROM form GROUP BY 1"
        ).fetchall()
        assert all(n == 1 for _, n in per_message), "a template case has forms of 2 messages"
        slots = len(sets[0])
        per_round = templates // TEMPLATE_SETS
        wanted = cases - templates
        rounds = math.ceil(wanted / per_round) + 1
        with db.transaction():
            db.execute(
                "CREATE TEMP TABLE bench_plan"
                " (n int, slot int, template_set int, state text, shift int)"
            )
            db.execute("CREATE TEMP TABLE bench_seed (template_set int, slot int, inbound_id int)")
            with db.cursor().copy("COPY bench_seed FROM STDIN") as copy:
                for template_set, ids in sets.items():
                    for slot, inbound_id in enumerate(ids):
                        copy.write_row((template_set, slot, inbound_id))
            with db.cursor().copy("COPY bench_plan FROM STDIN") as copy:
                for p in plan(rounds, slots, rng):
                    copy.write_row((p.round, p.slot, p.template_set, p.state, p.shift_days))
            for statement in COPY_SQL:
                db.execute(statement, {"wanted": wanted} if "%(" in statement else None)
            for table in SEQUENCED:
                db.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'),"
                    f' (SELECT MAX(id) FROM "{table}"))'
                )
        made = int(_scalar(db, 'SELECT COUNT(*) FROM "case"'))
        assert made == cases, (made, cases)


def vacuum(site: Site) -> None:
    """What autovacuum would long since have done to these tables."""
    with _connect(site) as db:
        db.autocommit = True
        db.execute("VACUUM ANALYZE")


def restart_durable(pg: Postgres) -> subprocess.Popen[bytes]:
    """The tests' server runs with ``-c fsync=off`` on its command line, which no setting
    overrides: stopped, and started again on the same data with fsync on (the default), so a
    page view's commits cost what they cost in service. postgres_server() stops it at the end
    as it stops its own."""
    from tests.servers import as_postgres, pg_bin

    data = pg.folder / "data"
    as_postgres([str(pg_bin() / "pg_ctl"), "stop", "-m", "fast", "-D", str(data)])
    process = subprocess.Popen(
        (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else [])
        + [str(pg_bin() / "postgres"), "-D", str(data), "-p", str(pg.port)]
        + ["-k", str(pg.folder), "-c", "listen_addresses=127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pg.wait_ready()
    with pg.connect() as server:
        assert _scalar(server, "SHOW fsync") == "on"
    return process


def describe_seed(site: Site) -> None:
    with _connect(site) as db:

        def one(sql: str) -> Any:
            return _scalar(db, sql)

        states = db.execute('SELECT state, COUNT(*) FROM "case" GROUP BY 1 ORDER BY 1').fetchall()
        print("  cases by state: " + ", ".join(f"{s} {n}" for s, n in states))
        counts = {
            table: one(f'SELECT COUNT(*) FROM "{table}"')
            for table in SEQUENCED[1:]  # every table but "case" itself
        }
        print("  rows: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
        blobs = one("SELECT pg_size_pretty(pg_total_relation_size('stored_blob'))")
        size = one("SELECT pg_size_pretty(pg_database_size(current_database()))")
        print(f"  sealed messages and attachments {blobs}; database {size}")
        open_ = one(
            "SELECT COUNT(*) FROM \"case\" WHERE state IN ('awaiting_decision',"
            " 'awaiting_information')"
        )
        missed = one(
            "SELECT COUNT(*) FROM \"case\" WHERE state IN ('awaiting_decision',"
            " 'awaiting_information') AND next_due < CURRENT_DATE"
        )
        level3 = one('SELECT COUNT(*) FROM "case" WHERE level = 3')
        kinds = db.execute(
            'SELECT agency, COUNT(*) FROM "case" GROUP BY 1 ORDER BY 2 DESC'
        ).fetchall()
        years = db.execute(
            "SELECT split_part(ref, '-', 2), COUNT(*) FROM \"case\" GROUP BY 1 ORDER BY 1"
        ).fetchall()
        print(
            f"  open {open_} (deadline missed {missed}); Level 3 {level3}; by agency: "
            + ", ".join(f"{a} {n}" for a, n in kinds)
            + "; by year: "
            + ", ".join(f"{y} {n}" for y, n in years)
        )


# -- Measure -------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    content_type: str
    body: str
    raw: bytes


class Client:
    """One keep-alive connection, as a browser holds, with the session's cookie."""

    def __init__(self, port: int, cookie: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Cookie": cookie, "Accept": "text/html"}

    def get(self, path: str) -> tuple[float, Response]:
        began = time.perf_counter()
        self.connection.request("GET", path, headers=self.headers)
        answer = self.connection.getresponse()
        raw = answer.read()
        elapsed = time.perf_counter() - began
        content_type = answer.getheader("Content-Type", "")
        body = raw.decode("utf-8", "replace") if content_type.startswith("text/") else ""
        return elapsed, Response(answer.status, content_type, body, raw)


@dataclass
class Probe:
    """One kind of request: the next path to ask for, and the check of its answer."""

    name: str
    next_path: Callable[[], tuple[str, Callable[[Response], None]]]
    count: int
    target: bool = True  # the 200 ms target applies


def _check(condition: bool, path: str, what: str, response: Response) -> None:
    if not condition:
        raise AssertionError(
            f"GET {path}: {what} (status {response.status}): {response.body[:600]}"
        )


SUMMARY = re.compile(r'<p class="summary">(\d+) case')
# console/documents.py and console/views/documents.py: a document that could not be drawn.
UNREADABLE = re.compile(r"[^<>]*cannot be (read|shown|drawn|decoded)[^<>]*")
ROW = re.compile(r'<th scope="row"><a href="/cases/(MAPPA-\d{4}-\d+)">')


def queue_probe(name: str, pages: list[tuple[str, int, int]], count: int) -> Probe:
    """``pages``: (query, page number, the total the database finds), taken in turn."""
    turn = [0]

    def next_path() -> tuple[str, Callable[[Response], None]]:
        query, page, total = pages[turn[0] % len(pages)]
        turn[0] += 1
        path = "/?" + "&".join(filter(None, (query, f"page={page}" if page > 1 else "")))
        path = path.rstrip("?")
        rows = max(0, min(PAGE_SIZE, total - (page - 1) * PAGE_SIZE))

        def check(response: Response) -> None:
            _check(response.status == 200, path, "not 200", response)
            shown = SUMMARY.search(response.body)
            _check(shown is not None and int(shown.group(1)) == total, path, "total", response)
            _check(len(ROW.findall(response.body)) == rows, path, f"not {rows} rows", response)

        return path, check

    return Probe(name, next_path, count)


def case_probe(
    name: str, cases: list[tuple[str, str, int]], rng: random.Random, count: int
) -> Probe:
    """``cases``: (ref, kind of the document drawn, form id); a random one each time."""
    marks = {"pdf": '/pages/1"', "docx": 'class="docx"', "text": 'class="body-text"'}

    def next_path() -> tuple[str, Callable[[Response], None]]:
        ref, kind, _form = rng.choice(cases)
        path = f"/cases/{ref}"

        def check(response: Response) -> None:
            _check(response.status == 200, path, "not 200", response)
            _check(ref in response.body, path, "not the case's reference", response)
            _check("The form as received" in response.body, path, "no document", response)
            _check(marks[kind] in response.body, path, f"{kind} not drawn", response)
            unreadable = UNREADABLE.search(response.body)
            _check(unreadable is None, path, f"{unreadable and unreadable.group(0)}", response)

        return path, check

    return Probe(name, next_path, count)


def image_probe(pdfs: list[tuple[str, str, int]], rng: random.Random, count: int) -> Probe:
    def next_path() -> tuple[str, Callable[[Response], None]]:
        ref, _kind, form_id = rng.choice(pdfs)
        path = f"/cases/{ref}/forms/{form_id}/pages/1"

        def check(response: Response) -> None:
            _check(response.status == 200, path, "not 200", response)
            _check(response.raw.startswith(b"\x89PNG"), path, "not a PNG", response)

        return path, check

    return Probe("PDF form, page 1 as PNG (not a target)", next_path, count, target=False)


def run_probe(client: Client, probe: Probe, warm_up: int) -> list[float]:
    times = []
    for index in range(warm_up + probe.count):
        path, check = probe.next_path()
        elapsed, response = client.get(path)
        check(response)
        if index >= warm_up:
            times.append(elapsed * 1000)
    return times


def probes(site: Site, args: argparse.Namespace, rng: random.Random) -> list[Probe]:
    """The pages, with what the database says each must show."""
    with _connect(site) as db:

        def count(where: str, *params: object) -> int:
            return int(_scalar(db, f'SELECT COUNT(*) FROM "case" WHERE {where}', *params))

        open_states = "state IN ('awaiting_decision', 'awaiting_information')"
        open_total = count(open_states)
        every = count("TRUE")
        filtered = []
        agencies = [str(r[0]) for r in db.execute('SELECT DISTINCT agency FROM "case" ORDER BY 1')]
        for agency in agencies:
            for state in ("awaiting_decision", "awaiting_information"):
                n = count("agency = %s AND state = %s", agency, state)
                filtered.append((f"agency={agency}&state={state}", 1, n))
        cases = [
            (str(ref), _kind(str(source)), int(form_id))
            for ref, source, form_id in db.execute(
                'SELECT c.ref, f.source, f.id FROM "case" c JOIN LATERAL (SELECT source, id FROM'
                " form WHERE form.case_id = c.id ORDER BY id LIMIT 1) f ON TRUE ORDER BY c.id"
            )
        ]
    deep = every // PAGE_SIZE * 3 // 4
    n = args.requests
    found = [
        queue_probe("queue: open cases (GET /)", [("", 1, open_total)], n),
        queue_probe("queue: page 2", [("", 2, open_total)], n),
        queue_probe("queue: filtered by agency and state", filtered, n),
        queue_probe(f"queue: all {every} cases, page {deep}", [("state=all", deep, every)], n),
        case_probe("case page: a random case", cases, rng, n),
    ]
    for kind, words in (("pdf", "PDF"), ("docx", "Word"), ("text", "e-mail body")):
        some = [c for c in cases if c[1] == kind]
        found.append(case_probe(f"case page: form drawn from {words}", some, rng, n // 2))
    if args.images:
        found.append(image_probe([c for c in cases if c[1] == "pdf"], rng, args.images))
    return found


def _kind(source: str) -> str:
    from console.documents import kind_of

    _, _, part = source.rpartition("#")
    name = part.partition(":")[2] if part.startswith("attachment:") else ""
    return kind_of(name) if name else "text"


def log_in(site: Site) -> str:
    """A Co-ordinator's account and a session, as a login makes them; the Cookie header."""
    from app.wiring import LOCAL_ZONE
    from console.web import SESSION_COOKIE
    from records import people
    from records.tables import Role

    db = site.database()
    try:
        now = datetime.now(LOCAL_ZONE)
        with db.session() as session:
            user = people.add_user(session, "bench", "Bench Co-ordinator", Role.COORDINATOR, now)
            token, _row = people.start_session(session, user, now, now + timedelta(hours=10))
    finally:
        db.dispose()
    return f"{SESSION_COOKIE}={token}"


def measure(site: Site, port: int, args: argparse.Namespace, rng: random.Random) -> None:
    process = site.start_console()
    try:
        client = Client(port, log_in(site))
        results = []
        for probe in probes(site, args, rng):
            times = sorted(run_probe(client, probe, args.warm_up))
            results.append((probe, times))
    finally:
        process.terminate()
        process.wait(timeout=30)
    out = io.StringIO()
    out.write(f"{'page':<52} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}\n")
    verdicts = []
    for probe, times in results:
        p50 = statistics.median(times)
        p95 = times[int(0.95 * (len(times) - 1))]
        out.write(f"{probe.name:<52} {len(times):>8} {p50:>8.1f} {p95:>8.1f} {times[-1]:>8.1f}\n")
        if probe.target:
            verdicts.append(p95 < TARGET_MS)
    print(out.getvalue(), end="")
    print(
        f"target p95 under {TARGET_MS:.0f} ms:"
        f" {'met' if all(verdicts) else 'NOT met'} ({sum(verdicts)} of {len(verdicts)} pages)"
    )


def _scalar(db: psycopg.Connection[Any], sql: str, *params: object) -> Any:
    row = db.execute(sql, params or None).fetchone()
    assert row is not None
    return row[0]


def _connect(site: Site) -> psycopg.Connection[tuple[Any, ...]]:
    url = site.database_url.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(url)


def machine(pg: Postgres) -> str:
    with pg.connect() as server:
        row = server.execute("SHOW server_version").fetchone()
    assert row is not None
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.node()}: {platform.machine()}, {os.cpu_count()} cores{memory},"
        f" {platform.platform()}, Python {platform.python_version()},"
        f" PostgreSQL {str(row[0]).split()[0]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="per page (case kinds: half)")
    parser.add_argument("--images", type=int, default=50, help="PDF pages drawn (0: skip)")
    parser.add_argument("--warm-up", type=int, default=10, help="requests per page not counted")
    args = parser.parse_args()
    rng = random.Random(20261123)
    began = time.monotonic()
    with (
        postgres_server() as pg,
        tempfile.TemporaryDirectory(prefix="mappa-bench-console-") as folder,
    ):
        print(f"bench/console.py on {machine(pg)}")
        port = free_port()
        site = Site(
            Path(folder),
            pg.create_database("bench_console"),
            settings={"console": {"port": port}},
        )
        sets = deliver_templates(site, rng)
        decide_templates(site, sets)
        templates = time.monotonic() - began
        multiply(site, sets, args.cases, rng)
        copied = time.monotonic() - began - templates
        vacuum(site)
        durable = restart_durable(pg)
        seeded = time.monotonic() - began
        print(
            f"seed: {TEMPLATE_SETS} x {len(sets[0])} fixture messages through run --once and"
            f" the decision code ({templates:.0f} s), copied in SQL to {args.cases} cases"
            f" ({copied:.0f} s), VACUUM ANALYZE, PostgreSQL restarted with fsync on;"
            f" {seeded:.0f} s in all"
        )
        describe_seed(site)
        measure(site, port, args, rng)
    durable.wait(timeout=30)  # postgres_server() stopped it
    print(f"bench/console.py took {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
