"""Labels are matched by meaning: case, punctuation, order, plurals, abbreviations, sections."""

from __future__ import annotations

import pytest

from parsers.labels import match_heading, match_label
from parsers.lines import TextLine, items_from_lines, text_lines
from parsers.marks import marks_in_text
from parsers.model import LabelledValue, Origin, Table

LABELS = [
    ("Date of Birth", "", "person.dob"),
    ("D.O.B.", "", "person.dob"),
    ("DOB (dd/mm/yyyy)", "", "person.dob"),
    ("birth date", "", "person.dob"),
    ("SURNAME:", "", "person.surname"),
    ("Offender's surname", "", "person.surname"),
    ("Name of offender", "", "person.name"),
    ("SCRO No.", "", "ids.chs"),
    ("CHS / SCRO number", "", "ids.chs"),
    ("PNC ID", "", "ids.pnc"),
    ("Index Offence(s)", "", "offence.index"),
    ("Earliest Date of Liberation (EDL)", "", "disposal.release_date"),
    ("Risk level (RoSH)", "", "risk.rosh"),
    ("Proposed MAPPA level", "", "level.proposed"),
    ("Level proposed", "", "level.proposed"),
    ("Officer completing form", "", "referrer.name"),
    ("Line manager authorising", "", "manager.name"),
    ("Name", "referrer", "referrer.name"),
    ("Name", "manager", "manager.name"),
    ("Date", "manager", "manager.date"),
    ("E-mail", "referrer", "referrer.email"),
    ("Address", "person", "person.address"),
    ("Name", "rmo", "rp.rmo"),
    # The RMO's telephone is known as such, so it is never taken for the referrer's.
    ("Telephone", "rmo", "rp.rmo_contact"),
    ("RMO tel.", "", "rp.rmo_contact"),
    # "Patient family name": the rarer words decide between "patient name" and "family name".
    ("Patient family name", "", "person.surname"),
    ("Patient first name(s)", "", "person.forenames"),
    # "Security level: High secure" is the hospital's, not the MAPPA level.
    ("Level of security", "", "rp.security"),
]


@pytest.mark.parametrize(
    ("label", "section", "field"), LABELS, ids=[f"{lab}|{sec}" for lab, sec, _f in LABELS]
)
def test_label_names_field(label: str, section: str, field: str) -> None:
    found = match_label(label, section)
    assert found is not None and found.field == field


@pytest.mark.parametrize(
    ("label", "section"),
    [("Signature", "referrer"), ("Please complete every box", ""), ("", "")],
    ids=["signature", "sentence", "empty"],
)
def test_label_names_nothing(label: str, section: str) -> None:
    assert match_label(label, section) is None


@pytest.mark.parametrize(
    ("text", "section"),
    [
        ("Section 6: Referrer Details", "referrer"),
        ("PART B - PERSONAL DETAILS", "person"),
        ("Manager authorisation", "manager"),
        ("Responsible Medical Officer", "rmo"),
    ],
)
def test_headings(text: str, section: str) -> None:
    assert match_heading(text) == section


def _pairs(text: str) -> dict[str, str]:
    items = items_from_lines(text_lines(text, Origin.TEXT), Origin.TEXT)
    return {i.label: i.value for i in items if isinstance(i, LabelledValue)}


def test_lines_colon_prefix_and_label_alone() -> None:
    pairs = _pairs(
        "Surname: MACTESTER\n"
        "Date of Birth 07/03/1984\n"
        "Address\n14 Fictional Road\nMotherwell\nML1 4ZZ\n\n"
        "Index offence - Assault to injury\n"
        "Risk level (RoSH):    High\n"
    )
    assert pairs["Surname"] == "MACTESTER"
    assert pairs["Date of Birth"] == "07/03/1984"
    assert pairs["Address"] == "14 Fictional Road\nMotherwell\nML1 4ZZ"
    assert pairs["Index offence"] == "Assault to injury"
    assert pairs["Risk level (RoSH)"] == "High"


def test_lines_table_header_opens_records() -> None:
    items = items_from_lines(
        text_lines(
            "Tool\tResult\tDate\nRM2000\tHigh\t01/02/2025\nSA07\tModerate\t03/04/2025\n",
            Origin.TEXT,
        ),
        Origin.TEXT,
    )
    tables = [i for i in items if isinstance(i, Table)]
    assert len(tables) == 1 and tables[0].rows[1] == ("SA07", "Moderate", "03/04/2025")


def test_pdf_value_column_continues_and_label_wraps() -> None:
    lines = [
        TextLine(("Address", "14 Fictional Road"), "p1", Origin.TABLE, columns_known=True),
        TextLine(
            ("Motherwell ML1 4ZZ",), "p1", Origin.TABLE, columns_known=True, in_value_column=True
        ),
        TextLine(("Date of", "07/03/1984"), "p1", Origin.TABLE, columns_known=True),
        TextLine(("Birth",), "p1", Origin.TEXT, columns_known=True),
    ]
    pairs = {
        i.label: i.value
        for i in items_from_lines(lines, Origin.TEXT)
        if isinstance(i, LabelledValue)
    }
    assert pairs == {
        "Address": "14 Fictional Road\nMotherwell ML1 4ZZ",
        "Date of Birth": "07/03/1984",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("☒ Category 1 (RSO)  ☐ Category 3", [("Category 1 (RSO)", True), ("Category 3", False)]),
        ("[X] Yes [ ] No", [("Yes", True), ("No", False)]),
        ("Yes ☐ No ☒", [("Yes", False), ("No", True)]),
        ("no boxes here", []),
    ],
    ids=["glyphs before", "brackets", "glyphs after", "none"],
)
def test_marks_in_text(text: str, expected: list[tuple[str, bool]]) -> None:
    assert marks_in_text(text) == expected


def test_no_field_lists_one_wording_twice() -> None:
    """Phrases are compared as canonical words, so two that reduce to the same words are one
    entry written twice; the table stays a list of distinct wordings."""
    from parsers.labels import label_words
    from parsers.synonyms import FIELD_LABELS

    repeated = [
        (field, phrase)
        for field, phrases in FIELD_LABELS.items()
        for n, phrase in enumerate(phrases)
        if label_words(phrase) in {label_words(p) for p in phrases[:n]}
    ]
    assert repeated == []
