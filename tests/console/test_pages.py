"""The console's other pages in a real browser: the quarantine worked (release, delete with a
reason), chases and the outbox after a request went out, the audit log for an administrator
only, and the reports, whose figures are checked against a recomputation of our own from the
case tables (not the event log the reports read)."""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections import Counter
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from records.reports import TIMELINESS, TIMESCALES, current_quarter
from tests.console.conftest import (
    ConsoleSite,
    audit_rows,
    entry_of,
    log_in,
    message_id,
    ref_of,
    screenshot,
    untrusted_message_id,
)
from triage.calendar import WorkingCalendar

pytestmark = pytest.mark.slow

LONDON = ZoneInfo("Europe/London")


def test_the_coordinator_releases_one_held_message_and_deletes_another(
    console_site: ConsoleSite, page: Any
) -> None:
    console_site.add_user("quinn", "coordinator", "Quinn Fictional")
    log_in(page, console_site.base_url, "quinn")
    page.get_by_role("link", name="Quarantine").click()
    kept, dropped = (entry_of(console_site, untrusted_message_id(n)) for n in (1, 2))
    held = page.locator(f"#entry-{kept}")
    assert "untrusted sender" in held.inner_text()
    assert "rab.unknown1@freemail.example" in held.inner_text()

    # The held message as it came, to judge it by.
    page.get_by_role("link", name=f"#{kept}", exact=True).click()
    expect(page.get_by_role("heading", name=f"Held message #{kept}")).to_be_visible()
    assert "freemail.example" in page.locator(".headers").inner_text()
    assert "Index offence" in page.locator("pre.body").inner_text()
    page.get_by_role("link", name="Back to the quarantine").click()

    # Release: the person vouches for it, and it becomes a case.
    page.get_by_role("button", name=f"Release entry {kept}").click()
    assert "taken" in page.locator(".notice").inner_text()
    ref = ref_of(console_site, untrusted_message_id(1))
    assert page.locator(f"#entry-{kept}").count() == 0

    # Delete needs a reason (the browser asks for it, and so does the server).
    page.get_by_role("button", name="Delete").click()  # empty reason: the form is not sent
    assert page.locator(f"#entry-{dropped}").count() == 1
    page.get_by_label(f"Reason for deleting entry {dropped}").fill("junk mail, not a referral")
    page.get_by_role("button", name="Delete").click()
    assert "deleted" in page.locator(".notice").inner_text()
    state = console_site.query("SELECT state FROM quarantine_entry WHERE id = :id", id=dropped)
    assert state[0][0] == "deleted"
    blobs = console_site.query(
        "SELECT COUNT(*) FROM stored_blob WHERE inbound_id ="
        " (SELECT inbound_id FROM quarantine_entry WHERE id = :id)",
        id=dropped,
    )
    assert blobs[0][0] == 0
    # The ledger still knows it came.
    assert console_site.query(
        "SELECT COUNT(*) FROM inbound_message WHERE message_id = :mid",
        mid=untrusted_message_id(2),
    ) == [(1,)]
    actions = console_site.query(
        "SELECT target, detail FROM audit_entry WHERE user_name = 'quinn'"
        " AND action = 'quarantine_action' ORDER BY id"
    )
    details = [(target, re.sub(r"\s", "", str(detail))) for target, detail in actions]
    assert details[0][0] == str(kept) and ref in details[0][1]
    assert details[1][0] == str(dropped) and "junkmail,notareferral" in details[1][1]

    # Nothing is sent outside the allow-list, released or not: no acknowledgement.
    page.get_by_role("link", name="Outbox").click()
    expect(page.get_by_role("heading", name="Outbox")).to_be_visible()
    assert ref not in page.locator("main").inner_text()


def test_a_read_only_user_sees_the_quarantine_but_cannot_act(
    console_site: ConsoleSite, page: Any
) -> None:
    console_site.add_user("ros", "read_only", "Ros Reader")
    log_in(page, console_site.base_url, "ros")
    page.goto(f"{console_site.base_url}/quarantine")
    expect(page.get_by_role("heading", name="Quarantine")).to_be_visible()
    assert page.get_by_role("button", name=re.compile("^Release")).count() == 0
    # Nor is the audit log theirs to read, and the console does not offer it.
    assert page.get_by_role("link", name="Audit log").count() == 0
    page.goto(f"{console_site.base_url}/audit")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()


def test_a_request_goes_out_is_chased_and_the_administrator_reads_the_audit_log(
    console_site: ConsoleSite, page: Any
) -> None:
    console_site.add_user("cora", "coordinator", "Cora Fictional")
    log_in(page, console_site.base_url, "cora")
    ref = ref_of(console_site, message_id("referral-l3-pdf-document-not-sent.eml"))
    page.goto(f"{console_site.base_url}/cases/{ref}")
    page.get_by_label("Ask for more information").check()
    page.get_by_role("button", name="Show the reply").click()
    page.get_by_role("button", name="Approve and send").click()
    assert "reply queued" in page.locator(".notice").inner_text()
    assert console_site.site.run_once().code == 0  # the request goes out
    first_due = console_site.query(
        "SELECT due FROM chase_step WHERE step = 1 AND case_id ="
        ' (SELECT id FROM "case" WHERE ref = :ref)',
        ref=ref,
    )[0][0]
    later = datetime.combine(date.fromisoformat(str(first_due)), time(10), LONDON)
    assert console_site.site.run_once("--now", later.isoformat()).code == 0  # the first chase

    page.get_by_role("link", name="Chases").click()
    history = page.locator("table[aria-labelledby=history-heading]").inner_text()
    assert ref in history and "chase first" in history
    due = page.locator("table[aria-labelledby=due-heading]").inner_text()
    assert ref in due  # the second reminder, then the escalation
    page.get_by_role("link", name="Outbox").click()
    sent = page.locator("table.outbox.sent").inner_text()
    assert "request info" in sent and "chase first" in sent

    console_site.add_user("adam", "administrator", "Adam Admin")
    page.get_by_role("button", name="Log out").click()
    log_in(page, console_site.base_url, "adam")
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("User", exact=True).fill("cora")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.audit tbody tr").all_inner_texts()
    assert any("decide" in row and ref in row for row in rows), rows
    assert all("cora" in row for row in rows)
    # An administrator works no case.
    page.goto(f"{console_site.base_url}/cases/{ref}")
    assert page.get_by_role("button", name="Show the reply").count() == 0
    assert ("view_audit", "") in [(a, t) for a, t, _at in audit_rows(console_site, "adam")]


def test_the_report_agrees_with_a_recomputation_from_the_case_tables(
    console_site: ConsoleSite, page: Any
) -> None:
    console_site.add_user("rhona", "coordinator", "Rhona Fictional")
    log_in(page, console_site.base_url, "rhona")
    # Decide a few cases as proposed, so the figures have decisions, levels and waits.
    for fixture in (
        "referral-l2-docx-with-documents.eml",
        "notification-in-text-body.eml",
        "rp-notification-level-2-pdf.eml",
    ):
        ref = ref_of(console_site, message_id(fixture))
        page.goto(f"{console_site.base_url}/cases/{ref}")
        page.get_by_role("button", name="Show the reply").click()
        page.get_by_role("button", name=re.compile("^Approve and (send|record)")).click()
        assert "Decision recorded" in page.locator(".notice").inner_text(), fixture
    assert console_site.site.run_once().code == 0

    page.get_by_role("link", name="Reports").click()
    chosen = current_quarter(datetime.now(LONDON).date())
    expect(page.get_by_role("heading", name=re.compile(chosen.name))).to_be_visible()
    assert page.locator(".chart svg").count() >= 4
    screenshot(page, "reports")
    shown = page.locator("table.timeliness").inner_text()
    assert "T8" in shown

    for name in (chosen.name, chosen.name[:7]):  # the quarter, and its reporting year
        answer = page.request.get(f"{console_site.base_url}/reports.csv?period={name}")
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(answer.text())))
        assert rows[0] == ["period", "section", "item", "value"]
        figures = {(section, item): value for _p, section, item, value in rows[1:]}
        expected = recompute(console_site, name, datetime.now(LONDON).date())
        assert figures == expected
        assert int(figures[("cases", "received")]) > 5
        assert int(figures[("decisions", "decided")]) >= 2


def recompute(console: ConsoleSite, name: str, today: date) -> dict[tuple[str, str], str]:
    """The report's figures from the tables the daemon and the console keep (cases,
    proposals, deadlines, decisions, the outbox, chase steps, forms): not from the event log."""
    from records.reports import period

    chosen = period(name)
    calendar = WorkingCalendar()
    counts: dict[str, Counter[str]] = {
        k: Counter()
        for k in ("received", "category", "agency", "level_proposed", "level_decided", "outcome")
    }
    timeliness = {t: Counter() for t in TIMESCALES}
    requests = chases = escalations = decided = 0
    waits: list[float] = []

    def utc(value: Any) -> datetime:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return when.replace(tzinfo=ZoneInfo("UTC"))

    cases = console.query('SELECT id, form_type, category, agency, received_at FROM "case"')
    for case_id, form_type, category, agency, received_at in cases:
        received = utc(received_at)
        if not chosen.start <= received.astimezone(LONDON).date() < chosen.end:
            continue
        counts["received"]["referral" if form_type.endswith("referral") else "notification"] += 1
        counts["category"][category or "unknown"] += 1
        counts["agency"][agency or "unknown"] += 1
        proposal = console.query(
            "SELECT id, level FROM proposal WHERE case_id = :c ORDER BY id DESC LIMIT 1", c=case_id
        )
        counts["level_proposed"][str(proposal[0][1]) if proposal[0][1] else "none"] += 1
        for timescale, due, status in console.query(
            "SELECT timescale, due, status FROM deadline WHERE proposal_id = :p", p=proposal[0][0]
        ):
            if timescale in timeliness:
                due_day = date.fromisoformat(str(due))
                state = status if status != "open" else ("open" if today <= due_day else "overdue")
                timeliness[timescale][state] += 1
        decisions = console.query(
            "SELECT outcome, level, decided_at FROM decision WHERE case_id = :c ORDER BY id",
            c=case_id,
        )
        if decisions:
            decided += 1
            counts["outcome"][decisions[0][0]] += 1
            waits.append((utc(decisions[0][2]) - received).total_seconds() / 3600)
            outcome, level = decisions[-1][0], decisions[-1][1]
            if outcome == "record":
                counts["level_decided"][str(level or 1)] += 1
            elif outcome == "accept" and level:
                counts["level_decided"][str(level)] += 1
        forms = [
            utc(f[0])
            for f in console.query("SELECT created_at FROM form WHERE case_id = :c", c=case_id)
        ]
        for (sent_at,) in console.query(
            "SELECT sent_at FROM outbound_message WHERE case_id = :c AND kind = 'request_info'"
            " AND sent_at IS NOT NULL",
            c=case_id,
        ):
            requests += 1
            sent = utc(sent_at)
            due_day = calendar.add_working_days(sent.astimezone(LONDON).date(), 5)
            answers = sorted(f for f in forms if f > sent)
            if answers:
                state = "met" if answers[0].astimezone(LONDON).date() <= due_day else "missed"
            else:
                state = "open" if today <= due_day else "overdue"
            timeliness["T8"][state] += 1
        for (kind,) in console.query(
            "SELECT kind FROM chase_step WHERE case_id = :c AND state = 'queued'", c=case_id
        ):
            if kind == "escalation":
                escalations += 1
            else:
                chases += 1
    found = {("cases", "received"): str(sum(counts["received"].values()))}
    for section, counter in counts.items():
        found.update({(section, item): str(n) for item, n in counter.items()})
    for timescale, counter in timeliness.items():
        found.update({(f"timeliness_{timescale}", s): str(counter[s]) for s in TIMELINESS})
    found[("requests", "information_requests")] = str(requests)
    found[("requests", "chases")] = str(chases)
    found[("requests", "escalations")] = str(escalations)
    found[("decisions", "decided")] = str(decided)
    found[("decisions", "median_hours_to_decision")] = (
        f"{statistics.median(waits):.1f}" if waits else ""
    )
    return found
