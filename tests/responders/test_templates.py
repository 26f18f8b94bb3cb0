"""Reply templates: words, dates, the marking, escaping, and an operator's own templates."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import jinja2
import pytest

from responders.compose import ReplyKind
from responders.templates import ReplyContext, Templates, long_date

CONTEXT = ReplyContext(
    case_ref="MAPPA-2026-0042",
    marking="OFFICIAL-SENSITIVE",
    form_name="MAPPA referral",
    person="M.V.",
    received=date(2026, 11, 16),
    signature="MAPPA Co-ordinator, Lanarkshire",
    missing=("the name of the authorising manager", "the risk management plan"),
    needed_by=date(2026, 11, 23),
)
BUILT = (ReplyKind.ACKNOWLEDGEMENT, ReplyKind.REQUEST_INFO)


@pytest.mark.parametrize("kind", BUILT)
def test_marking_reference_and_person_in_both_parts(kind: ReplyKind) -> None:
    rendered = Templates().render(kind, CONTEXT)
    for part in (rendered.text, rendered.html):
        assert part.count("OFFICIAL-SENSITIVE") >= 2  # top and bottom
        assert "MAPPA-2026-0042" in part
        assert "M.V." in part
        assert "Monday 16 November 2026" in part


def test_the_request_lists_each_missing_item_and_the_date() -> None:
    rendered = Templates().render(ReplyKind.REQUEST_INFO, CONTEXT)
    assert rendered.title == "Information needed for your MAPPA referral"
    assert (
        "  - the name of the authorising manager\n  - the risk management plan\n" in rendered.text
    )
    assert "<li>the risk management plan</li>" in rendered.html
    assert "by Monday 23 November 2026" in rendered.text
    assert "manager.name" not in rendered.text  # words, never field names


def test_html_is_escaped_and_text_is_not_altered() -> None:
    context = replace(CONTEXT, person='<script>alert("x")</script>')
    rendered = Templates().render(ReplyKind.ACKNOWLEDGEMENT, context)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert '<script>alert("x")</script>' in rendered.text


def test_an_operator_template_overrides_the_built_in(tmp_path: Path) -> None:
    (tmp_path / "acknowledgement.txt").write_text(
        "{% set title %}Received: {{ case_ref }}{% endset %}{{ marking }}\nGot it.\n"
    )
    rendered = Templates(tmp_path).render(ReplyKind.ACKNOWLEDGEMENT, CONTEXT)
    assert rendered.title == "Received: MAPPA-2026-0042"
    assert rendered.text == "OFFICIAL-SENSITIVE\nGot it.\n"
    assert "acknowledgement of receipt only" in rendered.html  # the built-in HTML stays


def test_a_template_naming_something_unknown_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "acknowledgement.txt").write_text("{% set title %}x{% endset %}{{ officer_home }}")
    with pytest.raises(jinja2.UndefinedError):
        Templates(tmp_path).render(ReplyKind.ACKNOWLEDGEMENT, CONTEXT)


@pytest.mark.parametrize(
    ("day", "words"),
    [(date(2026, 12, 1), "Tuesday 1 December 2026"), (date(2027, 1, 4), "Monday 4 January 2027")],
)
def test_long_date(day: date, words: str) -> None:
    assert long_date(day) == words
