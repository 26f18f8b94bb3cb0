"""The console in a real browser (Chromium, headless) against the real console process: the
whole approval flow, roles, sessions, CSRF, XSS, and the audit log it leaves."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import FIXTURES
from tests.console.conftest import (
    XSS,
    XSS_MESSAGE_ID,
    ConsoleSite,
    audit_rows,
    decisions_on,
    log_in,
    message_id,
    ref_of,
    screenshot,
)

pytestmark = pytest.mark.slow


def test_the_coordinator_corrects_a_field_edits_the_reply_and_it_reaches_the_agency(
    console_site: ConsoleSite, page: Any
) -> None:
    console_site.add_user("ann", "coordinator", "Ann Fictional")
    log_in(page, console_site.base_url, "ann")
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    # The queue: counts at the top, the most urgent first (a missed deadline).
    assert page.locator(".count.missed .number").inner_text().isdigit()
    first = page.locator("table.queue tbody tr").first
    assert "missed" in (first.get_attribute("class") or "")
    screenshot(page, "queue")

    # Filter by agency: only police cases remain.
    page.get_by_label("Agency").select_option("police")
    page.get_by_role("button", name="Filter").click()
    agencies = page.locator("table.queue tbody tr td:nth-child(6)").all_inner_texts()
    assert agencies and set(agencies) == {"police"}

    ref = ref_of(console_site, message_id("referral-l3-missing-manager.eml"))
    page.get_by_role("link", name=ref).click()
    expect(page.get_by_role("heading", name=re.compile(ref))).to_be_visible()
    # The Word form drawn beside the fields: the surname read from it is in its text.
    surname = page.locator("#field-person\\.surname td.value").inner_text().strip()
    assert surname and surname in page.locator(".document .docx").inner_text()
    checklist = page.locator(".checklist .missing").all_inner_texts()
    assert any("manager" in item.lower() for item in checklist), checklist
    screenshot(page, "case")

    # Correct the missing field: kept apart from the parser's value, and triage runs again.
    page.get_by_label("Field", exact=True).select_option("manager.name")
    page.get_by_label(re.compile("Value as it should read")).fill("Inspector Morag Fictional")
    page.get_by_label(re.compile("^Why")).fill("telephoned the referrer")
    page.get_by_role("button", name=re.compile("Keep the correction")).click()
    assert "Correction kept" in page.locator(".notice").inner_text()
    row = page.locator("#field-manager\\.name")
    assert "Inspector Morag Fictional" in row.inner_text()
    assert "Corrected by Ann Fictional" in row.inner_text()
    missing = page.locator(".checklist .missing").all_inner_texts()
    assert not any("manager" in item.lower() for item in missing), missing
    parsed = console_site.query(
        "SELECT COUNT(*) FROM form_field WHERE name = 'manager.name'"
        ' AND form_id IN (SELECT f.id FROM form f JOIN "case" c ON c.id = f.case_id'
        " WHERE c.ref = :ref)",
        ref=ref,
    )
    assert parsed[0][0] == 0  # the parser's reading is untouched

    # Decide: the proposal is preselected; the reply is shown and edited before it is queued.
    page.get_by_label(re.compile("^Accept")).check()
    page.get_by_label("Level", exact=True).select_option("3")
    page.get_by_role("button", name="Show the reply").click()
    reply = page.get_by_label("The reply")
    words = reply.input_value()
    assert ref in words and "OFFICIAL-SENSITIVE" in words
    assert decisions_on(console_site, ref) == 0
    reply.fill(words.replace("Level 3", "Level 3 (urgent: please call me today)", 1))
    page.get_by_role("button", name="Approve and send").click()
    assert "reply queued" in page.locator(".notice").inner_text()

    # The daemon sends it: it reaches the SMTP server, to the agency, as edited, threaded.
    console_site.sink.clear()
    sent = console_site.site.run_once()
    assert sent.code == 0, sent.stderr
    replies = [r for r in console_site.sink.received() if ref.encode() in r.data]
    assert len(replies) == 1
    message = BytesParser(policy=policy.default).parsebytes(replies[0].data)
    agency = (
        BytesParser(policy=policy.default)
        .parsebytes((FIXTURES / "messages" / "referral-l3-missing-manager.eml").read_bytes())[
            "From"
        ]
        .addresses[0]
        .addr_spec
    )
    assert replies[0].rcpt_tos == (agency.lower(),)
    assert message["In-Reply-To"] == message_id("referral-l3-missing-manager.eml")
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "please call me today" in text
    assert text.strip().startswith("OFFICIAL-SENSITIVE") and text.strip().endswith(
        "OFFICIAL-SENSITIVE"
    )

    # The audit log has each view and each change, with the user and the time.
    actions = audit_rows(console_site, "ann")
    names = [a for a, _t, _at in actions]
    for wanted in ("login", "view_queue", "view_case", "correct_field", "preview_reply", "decide"):
        assert wanted in names, (wanted, names)
    assert all(at is not None for _a, _t, at in actions)
    assert ("view_case", ref) in [(a, t) for a, t, _at in actions]
    assert ("decide", ref) in [(a, t) for a, t, _at in actions]


def test_a_deputy_decides_when_the_coordinator_is_away(
    console_site: ConsoleSite, page: Any
) -> None:
    console_site.add_user("dan", "deputy", "Dan Deputy")
    log_in(page, console_site.base_url, "dan")
    ref = ref_of(console_site, message_id("rp-notification-level-2-pdf.eml"))
    page.goto(f"{console_site.base_url}/cases/{ref}")
    # The PDF form drawn beside the fields, page by page.
    first_page = page.get_by_alt_text("Page 1 of the form as received")
    first_page.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 500", arg=first_page.element_handle()
    )
    page.get_by_label(re.compile("^Record only")).check()
    page.get_by_role("button", name="Show the reply").click()
    page.get_by_role("button", name="Approve and record").click()
    assert "Decision recorded" in page.locator(".notice").inner_text()
    decided = console_site.query(
        'SELECT d.outcome, d.decided_by FROM decision d JOIN "case" c ON c.id = d.case_id'
        " WHERE c.ref = :ref",
        ref=ref,
    )
    assert decided == [("record", "Dan Deputy")]
    assert ("decide", ref) in [(a, t) for a, t, _at in audit_rows(console_site, "dan")]


def test_a_read_only_user_sees_but_cannot_decide(console_site: ConsoleSite, page: Any) -> None:
    console_site.add_user("rita", "read_only", "Rita Reader")
    log_in(page, console_site.base_url, "rita")
    ref = ref_of(console_site, message_id("referral-l2-docx-with-documents.eml"))
    page.goto(f"{console_site.base_url}/cases/{ref}")
    expect(page.get_by_role("heading", name="Extracted fields")).to_be_visible()
    assert page.get_by_role("button", name="Show the reply").count() == 0
    assert page.get_by_role("button", name=re.compile("Keep the correction")).count() == 0
    # Posting the decision anyway, with the session's own CSRF token, is refused.
    token = page.locator("form.logout input[name=csrf_token]").input_value()
    with page.expect_navigation():
        page.evaluate(
            """([ref, token]) => {
            const form = document.createElement("form");
            form.method = "post"; form.action = `/cases/${ref}/decide`;
            for (const [k, v] of [["csrf_token", token], ["outcome", "reject"], ["reasons", "x"]]) {
                const input = document.createElement("input");
                input.type = "hidden"; input.name = k; input.value = v; form.append(input);
            }
            document.body.append(form); form.submit();
        }""",
            [ref, token],
        )
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert decisions_on(console_site, ref) == 0
    assert ("refused", f"/cases/{ref}/decide") in [
        (a, t) for a, t, _at in audit_rows(console_site, "rita")
    ]


def test_an_expired_session_sends_the_user_to_log_in_again(
    console_site: ConsoleSite, page: Any
) -> None:
    console_site.add_user("eve", "coordinator", "Eve Expired")
    log_in(page, console_site.base_url, "eve")
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    # Idle past the limit (30 minutes by default).
    console_site.execute(
        "UPDATE console_session SET last_seen_at = '2000-01-01 00:00:00' WHERE user_id ="
        " (SELECT id FROM console_user WHERE name = 'eve')"
    )
    page.reload()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert "session has ended" in page.locator(".notice").inner_text()


def test_a_form_without_the_csrf_token_or_from_another_site_is_refused(
    console_site: ConsoleSite, page: Any
) -> None:
    console_site.add_user("cai", "coordinator", "Cai Csrf")
    log_in(page, console_site.base_url, "cai")
    ref = ref_of(console_site, message_id("referral-in-html-body.eml"))
    # Same origin, a wrong token.
    page.goto(f"{console_site.base_url}/cases/{ref}")
    page.locator("form.decide input[name=csrf_token]").evaluate("e => e.value = 'forged'")
    page.get_by_role("button", name="Show the reply").click()
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    # Another site's page posting to the console, in the same browser.
    evil = (
        f'<form method="post" action="{console_site.base_url}/cases/{ref}/decide">'
        '<input name="outcome" value="reject"><input name="reasons" value="forged">'
        "<button>go</button></form>"
    )
    page.route(
        "http://elsewhere.test/", lambda route: route.fulfill(body=evil, content_type="text/html")
    )
    page.goto("http://elsewhere.test/")
    with page.expect_navigation():
        page.get_by_role("button", name="go").click()
    assert "Cross-site form posts are refused" in page.content()
    assert decisions_on(console_site, ref) == 0


def test_markup_in_a_form_field_is_shown_as_text(console_site: ConsoleSite, page: Any) -> None:
    console_site.add_user("xav", "read_only", "Xav Viewer")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, console_site.base_url, "xav")
    ref = ref_of(console_site, XSS_MESSAGE_ID)
    page.goto(f"{console_site.base_url}/cases/{ref}")
    offence = page.locator("#field-offence\\.index td.value").inner_text()
    assert "<script>" in offence and "onerror" in offence
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("main script").count() == 0
    assert dialogs == []
    assert XSS[:8] in offence


def test_repeated_wrong_passwords_lock_the_account(console_site: ConsoleSite, page: Any) -> None:
    console_site.add_user("lou", "coordinator", "Lou Locked")
    for _ in range(5):
        log_in(page, console_site.base_url, "lou", "wrong password, wrong")
        expect(page.get_by_role("alert")).to_be_visible()
    log_in(page, console_site.base_url, "lou")  # the right one, now refused
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    actions = [a for a, _t, _at in audit_rows(console_site, "lou")]
    assert actions.count("login_failed") == 6 and "locked_out" in actions
