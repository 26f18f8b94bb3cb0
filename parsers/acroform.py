"""Fillable PDF forms: the AcroForm fields and what the sender typed into them.

Designers name fields as they please ("txtSurname", "DateOfBirth", "PNC_No", "chkCat3"); the
tooltip (``/TU``, the accessible name) is a better label when present. Either way the name is
turned back into words and matched by meaning like any other label.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from parsers.labels import label_words
from parsers.model import Item, LabelledValue, Mark, Origin, Table
from parsers.synonyms import TABLE_HEADERS

# Prefixes form designers put before a field's name to say what kind of box it is.
_PREFIXES = frozenset("txt chk cb cbx chb fld tb rb dd opt lbl frm text check field box".split())
# /Ff bit 16 (1-based) marks a radio-button group (PDF 32000-1:2008, table 226).
_RADIO_FLAG = 1 << 15
# Nested field trees deeper than this are malformed (or hostile): stop walking.
MAX_DEPTH = 16
MAX_FIELDS = 2000


# Mixed-case terms of the trade that must not be split at their capitals.
_KEEP = ("ViSOR", "RoSH", "ORoSH", "CareFirst")


def humanise(name: str) -> str:
    """ "txtDateOfBirth" -> "Date Of Birth"; "PNC_No" -> "PNC No"; "chkCat3" -> "Cat 3"."""
    spaced = re.sub(r"[_.\-]+", " ", name)
    for term in _KEEP:
        spaced = spaced.replace(term, f" {term.upper()} ")
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", spaced)
    spaced = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", " ", spaced)
    words = spaced.split()
    while len(words) > 1 and words[0].lower() in _PREFIXES:
        words = words[1:]
    return " ".join(words)


def _text(value: Any) -> str:
    from pdfminer.psparser import PSLiteral
    from pdfminer.utils import decode_text

    if isinstance(value, PSLiteral):
        name = value.name
        return name.decode("latin-1") if isinstance(name, bytes) else str(name)
    if isinstance(value, bytes):
        return decode_text(value)
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value)
    return "" if value is None else str(value)


def form_items(document: Any) -> list[Item]:
    """Every filled field of a pdfminer ``PDFDocument``, as labelled values and marks."""
    from pdfminer.pdftypes import resolve1

    form = resolve1(document.catalog.get("AcroForm"))
    if not isinstance(form, dict):
        return []
    fields = resolve1(form.get("Fields")) or []
    items: list[Item] = []
    for item in _walk(fields, "", {}, 0):
        items.append(item)
        if len(items) >= MAX_FIELDS:
            break
    return _gather_numbered(items)


_NUMBERED = re.compile(r"^(?P<base>\D*?)\s*(?P<n>\d{1,2})(?P<rest>\D*)$")


def _gather_numbered(items: list[Item]) -> list[Item]:
    """Rows of a table drawn as numbered fields ("Tool1", "Result1", "ToolDate1"; "Doc2",
    "Doc2Attached") -> one ``Table`` per kind of record, so each row stays together."""
    cells: dict[str, dict[int, dict[str, str]]] = {}
    kept: list[Item] = []
    for item in items:
        placed = _place(item) if isinstance(item, LabelledValue) else None
        if placed is None:
            kept.append(item)
            continue
        kind, column, row = placed
        assert isinstance(item, LabelledValue)
        cells.setdefault(kind, {}).setdefault(row, {})[column] = item.value
    for kind, rows in cells.items():
        columns = tuple(TABLE_HEADERS[kind])
        records = tuple(
            tuple(rows[n].get(c, "") for c in columns)
            for n in sorted(rows)
            if any(rows[n].values())
        )
        kept.append(Table(columns, records, Origin.FORM_FIELD, f"fields {kind}"))
    return kept


def _place(item: LabelledValue) -> tuple[str, str, int] | None:
    """(table kind, column, row number) of a numbered field, from its field name."""
    name = item.where.removeprefix("field ").rsplit(".", 1)[-1]
    found = _NUMBERED.match(humanise(name))
    if found is None:
        return None
    words = f"{found['base']} {found['rest']}".split()
    if not words:
        return None
    # The first word says which table ("Tool", "Order", "Doc"), the last which column
    # ("ToolDate1" is the date of tool 1).
    first, last = label_words(words[0]), label_words(words[-1])
    for kind, columns in TABLE_HEADERS.items():
        if not any(first & label_words(n) for names in columns.values() for n in names):
            continue
        for column, names in columns.items():
            if any(last & label_words(n) for n in names):
                return kind, column, int(found["n"])
    return None


def _walk(fields: Any, parent: str, inherited: dict[str, Any], depth: int) -> Iterator[Item]:
    from pdfminer.pdftypes import resolve1

    if depth > MAX_DEPTH or not isinstance(fields, list):
        return
    for ref in fields:
        field = resolve1(ref)
        if not isinstance(field, dict):
            continue
        name = _text(field.get("T"))
        full = f"{parent}.{name}" if parent and name else (name or parent)
        own = {k: field[k] for k in ("FT", "Ff", "V", "TU") if k in field}
        merged = {**inherited, **own}
        kids = resolve1(field.get("Kids"))
        if isinstance(kids, list) and any(
            isinstance(resolve1(k), dict) and "T" in resolve1(k) for k in kids
        ):
            yield from _walk(kids, full, merged, depth + 1)
            continue
        item = _item(full, merged)
        if item is not None:
            yield item


def _item(name: str, field: dict[str, Any]) -> Item | None:
    label = _text(field.get("TU")).strip() or humanise(name.rsplit(".", 1)[-1])
    kind = _text(field.get("FT"))
    value = _text(field.get("V")).strip()
    where = f"field {name}"[:40]
    if kind == "Btn":
        flags = field.get("Ff") or 0
        if isinstance(flags, int) and flags & _RADIO_FLAG:
            return LabelledValue(
                label, "" if value == "Off" else humanise(value), Origin.FORM_FIELD, where
            )
        return Mark("", label, value not in ("", "Off"), Origin.FORM_FIELD, where)
    return LabelledValue(label, value, Origin.FORM_FIELD, where)
