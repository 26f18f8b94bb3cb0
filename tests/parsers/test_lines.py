"""Lines of text into labelled values: the cases where a line's look misleads."""

from __future__ import annotations

from parsers.lines import TextLine, items_from_lines, text_lines
from parsers.model import LabelledValue, Origin


def _pairs(text: str) -> list[tuple[str, str]]:
    items = items_from_lines(text_lines(text, Origin.TEXT), Origin.TEXT)
    return [(i.label, " ".join(i.value.split())) for i in items if isinstance(i, LabelledValue)]


def test_a_sentence_with_a_colon_under_an_announced_label_is_its_value() -> None:
    text = "Rationale:\nVery high risk of serious harm: recent breaches suggest harm is imminent.\n"
    assert _pairs(text) == [
        ("Rationale", "Very high risk of serious harm: recent breaches suggest harm is imminent.")
    ]


def test_items_answered_in_brackets_are_list_items_not_headings() -> None:
    text = "Documents attached:\nRMO report (yes)\nRisk Management Plan (yes)\n"
    assert _pairs(text) == [("Documents attached", "RMO report (yes) Risk Management Plan (yes)")]


def test_an_announced_list_takes_dashed_items_that_look_like_labels() -> None:
    text = "Attachments:\n\nRisk Assessment - Y\nRMO report - Y\n"
    assert _pairs(text) == [("Attachments", "Risk Assessment - Y RMO report - Y")]


def test_a_wrapped_sentence_is_not_cut_by_words_that_look_like_a_label() -> None:
    text = (
        "Reasons for level: Single-agency management by the\n"
        "lead agency is sufficient; partners share information.\n"
        "Lead agency: Police Scotland\n"
    )
    assert _pairs(text) == [
        (
            "Reasons for level",
            "Single-agency management by the lead agency is sufficient; partners share "
            "information.",
        ),
        ("Lead agency", "Police Scotland"),
    ]


def test_a_label_ends_at_its_colon() -> None:
    assert _pairs("Risk is to: Children, particularly boys under 12\n") == [
        ("Risk is to", "Children, particularly boys under 12")
    ]


def test_a_label_and_value_that_both_wrap_in_two_columns() -> None:
    lines = [
        TextLine(("Level 3: what cannot be", "Level 2 cannot secure the"), "l1", Origin.OCR),
        TextLine(("delivered at Level 2", "supported accommodation."), "l2", Origin.OCR),
    ]
    items = items_from_lines(lines, Origin.OCR)
    assert [(i.label, i.value) for i in items if isinstance(i, LabelledValue)] == [
        (
            "Level 3: what cannot be delivered at Level 2",
            "Level 2 cannot secure the\nsupported accommodation.",
        )
    ]


def test_a_reader_marked_heading_never_becomes_a_value() -> None:
    lines = [
        TextLine(("Other orders:",), "p1", Origin.PARAGRAPH),
        TextLine(("RISK",), "p2", Origin.PARAGRAPH, heading=True),
        TextLine(("Risk level (RoSH): High",), "p3", Origin.PARAGRAPH),
    ]
    items = items_from_lines(lines, Origin.PARAGRAPH)
    assert [(i.label, i.value) for i in items if isinstance(i, LabelledValue)] == [
        ("Other orders", ""),
        ("Risk level (RoSH)", "High"),
    ]


def test_a_long_name_without_a_full_stop_is_not_an_unfinished_sentence() -> None:
    # OCR output: a blank line, then the page's protective marking.
    text = "Agency: North Lanarkshire Council Justice Social Work\n\nOFFICIAL-SENSITIVE\n"
    assert _pairs(text) == [("Agency", "North Lanarkshire Council Justice Social Work")]
