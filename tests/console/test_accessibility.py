"""Accessibility of the console in a real browser: every kind of page passes axe-core's WCAG
2.2 A and AA rules (labels, names, contrast, landmarks ...), and the whole approval flow can
be done with the keyboard alone, the focus always visible."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.axe import violations
from tests.console.conftest import (
    ConsoleSite,
    decisions_on,
    entry_of,
    log_in,
    message_id,
    ref_of,
    untrusted_message_id,
)

pytestmark = pytest.mark.slow


def test_axe_finds_what_it_is_there_to_find(page: Any) -> None:
    page.set_content(
        '<html lang="en"><title>t</title><main><input name="q">'
        '<p style="color:#bbb">faint words</p></main></html>'
    )
    rules = {line.split(" ")[0] for line in violations(page)}
    assert {"label", "color-contrast"} <= rules


def test_every_kind_of_page_passes_axe(console_site: ConsoleSite, page: Any) -> None:
    base = console_site.base_url
    page.goto(f"{base}/login")
    found = {"/login": violations(page)}
    console_site.add_user("alba", "coordinator", "Alba Fictional")
    log_in(page, base, "alba")
    word = ref_of(console_site, message_id("referral-l3-missing-manager.eml"))
    pdf = ref_of(console_site, message_id("referral-l3-fillable-with-documents.eml"))
    held = entry_of(console_site, untrusted_message_id(1))
    for path in (
        "/",
        "/?agency=police",
        f"/cases/{word}",
        f"/cases/{pdf}",
        "/quarantine",
        f"/quarantine/{held}",
        "/chases",
        "/outbox",
        "/reports",
        "/no-such-page",
    ):
        page.goto(base + path)
        found[path] = violations(page)
    page.goto(f"{base}/cases/{word}")
    page.get_by_role("button", name="Show the reply").click()
    page.wait_for_load_state()  # its stylesheet applied: axe measures the page as drawn
    found["reply"] = violations(page)

    console_site.add_user("ailsa", "administrator", "Ailsa Admin")
    page.get_by_role("button", name="Log out").click()
    log_in(page, base, "ailsa")
    page.goto(f"{base}/audit")
    page.wait_for_load_state()
    found["/audit"] = violations(page)
    assert {path: lines for path, lines in found.items() if lines} == {}


def _focused(page: Any) -> dict[str, str]:
    return dict(
        page.evaluate(
            """() => {
            const e = document.activeElement;
            const label = e.labels && e.labels.length ? e.labels[0].textContent : "";
            const style = getComputedStyle(e);
            return {
                tag: e.tagName.toLowerCase(),
                name: (e.getAttribute("aria-label") || label || e.textContent || "").trim(),
                outline: style.outlineStyle + " " + style.outlineWidth,
                shadow: style.boxShadow,
            };
        }"""
        )
    )


def tab_to(page: Any, name: re.Pattern[str], presses: int = 300) -> None:
    """Press Tab until the focused control's name matches; each stop must show its focus."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        focused = _focused(page)
        if focused["tag"] == "body":
            continue
        visible = not focused["outline"].startswith("none") or focused["shadow"] != "none"
        assert visible, f"no visible focus on {focused}"
        if name.search(focused["name"]):
            return
    raise AssertionError(f"{name.pattern!r} cannot be reached with the Tab key")


def test_the_whole_approval_flow_works_with_the_keyboard_alone(
    console_site: ConsoleSite, page: Any
) -> None:
    console_site.add_user("kit", "coordinator", "Kit Keyboard")
    ref = ref_of(console_site, message_id("referral-in-html-body.eml"))
    page.goto(f"{console_site.base_url}/login")
    tab_to(page, re.compile("^User name"))
    page.keyboard.type("kit")
    tab_to(page, re.compile("^Password"))
    page.keyboard.type("fictional passphrase for tests")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()

    tab_to(page, re.compile(f"^{ref}$"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile(ref))).to_be_visible()

    tab_to(page, re.compile("^Show the reply"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    reply = page.get_by_label("The reply")
    if reply.count():  # an outcome with a reply: its words can be changed from the keyboard
        tab_to(page, re.compile("^The reply"))
        page.keyboard.press("Control+End")
        page.keyboard.type("\nTyped with the keyboard alone.")
        assert reply.input_value().endswith("Typed with the keyboard alone.")
    tab_to(page, re.compile("^Approve and (send|record)"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Decision recorded" in page.locator(".notice").inner_text()
    assert decisions_on(console_site, ref) == 1
