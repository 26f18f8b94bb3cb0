"""The report's CSV never hands a spreadsheet a formula: an item named from a form that
begins like one is quoted."""

from __future__ import annotations

import pytest

from console.views.reports import csv_cell


@pytest.mark.parametrize(
    ("item", "written"),
    [
        ("CAT1", "CAT1"),
        ("police", "police"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("", ""),
    ],
)
def test_an_item_that_looks_like_a_formula_is_quoted(item: str, written: str) -> None:
    assert csv_cell(item) == written
