"""Word (.docx) forms: tables, paragraphs, checkboxes and content controls, in reading order.

The package is checked before python-docx opens it: a ZIP bomb, a macro-enabled document or a
ZIP that is not a Word document is refused with its reason. The body is then walked once with
lxml (python-docx's own objects rebuild every cell on each access, which costs more than the
whole read): paragraphs become lines, two-column rows label/value pairs, a header row we know a
record table, Word checkbox controls and legacy form checkboxes ☒/☐, and plain-text content
controls labelled values named by their title (``w:alias``) or tag.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import Iterator
from typing import Any

from parsers.errors import CorruptDocument, LimitExceeded, MacroDocument, UnsupportedDocument
from parsers.labels import is_known_label
from parsers.limits import MIB, Limits
from parsers.lines import TextLine, items_from_lines, text_lines
from parsers.model import Item, LabelledValue, Line, Origin, RawDocument, Table
from parsers.tables import table_kind

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
_W = f"{{{W}}}"
_W14 = f"{{{W14}}}"
# Symbols Word writes for checkboxes in the Wingdings font.
_WINGDINGS_BOXES = {"F0FE": "☒", "F078": "☒", "F0FD": "☒", "F0A8": "☐", "F06F": "☐", "F071": "☐"}
# Members that mean the document carries macros (VBA) or ActiveX code.
_MACRO_PARTS = ("vbaproject.bin", "vbadata.xml", "activex")
_MACRO_CONTENT = b"macroEnabled"
# A Word package has tens of members; thousands mean something else is going on.
MAX_MEMBERS = 5000
# Members smaller than this are never called bombs, whatever their ratio.
BOMB_FLOOR = 1 * MIB


def check_package(data: bytes, limits: Limits) -> None:
    """Refuse what must not be opened: not a ZIP, not Word, macros, or a decompression bomb."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as err:
        raise CorruptDocument(f"not a valid Word document (damaged ZIP package: {err})") from err
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise LimitExceeded(f"Word package has {len(members)} parts (limit {MAX_MEMBERS})")
        names = {m.filename.lower() for m in members}
        if "word/document.xml" not in names:
            raise UnsupportedDocument("ZIP file that is not a Word document")
        if any(part in name for name in names for part in _MACRO_PARTS):
            raise MacroDocument("Word document contains macros (VBA): not opened")
        content_types = (
            archive.read("[Content_Types].xml") if "[content_types].xml" in names else b""
        )
        if _MACRO_CONTENT in content_types:
            raise MacroDocument("macro-enabled Word document (.docm): not opened")
        _check_sizes(members, limits)


def _check_sizes(members: list[zipfile.ZipInfo], limits: Limits) -> None:
    total = sum(m.file_size for m in members)
    if total > limits.max_decompressed_bytes:
        limit = limits.max_decompressed_bytes // MIB
        raise LimitExceeded(f"Word package expands to {total // MIB} MB (limit {limit} MB)")
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > BOMB_FLOOR and ratio > limits.max_compression_ratio:
            raise LimitExceeded(
                f"Word package member {member.filename!r} expands {ratio:.0f}x: a ZIP bomb"
            )


class DocxFormReader:
    def read(self, data: bytes, *, limits: Limits) -> RawDocument:
        check_package(data, limits)
        import docx  # python-docx; imported here so that other formats do not pay for it

        try:
            document = docx.Document(io.BytesIO(data))
        except Exception as err:  # python-docx raises KeyError, ValueError, lxml errors...
            raise CorruptDocument(f"damaged Word document: {type(err).__name__}") from err
        return _Walker().walk(document.element.body)


def _local(el: Any) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _checkbox_state(sdt: Any) -> bool | None:
    """A Word 2010+ checkbox content control: its ticked state, or None if it is not one."""
    pr = sdt.find(f"{_W}sdtPr")
    if pr is None:
        return None
    box = pr.find(f"{_W14}checkbox")
    if box is None:
        return None
    checked = box.find(f"{_W14}checked")
    value = None if checked is None else checked.get(f"{_W14}val")
    return value in ("1", "true", "on")


def _legacy_checkbox(fld: Any) -> str:
    """A legacy FORMCHECKBOX field (w:fldChar begin + w:ffData/w:checkBox) as ☒ or ☐."""
    box = fld.find(f"{_W}ffData/{_W}checkBox")
    if box is None:
        return ""
    state = box.find(f"{_W}checked")
    if state is None:
        state = box.find(f"{_W}default")
    ticked = state is not None and state.get(f"{_W}val", "1") in ("1", "true", "on")
    return "☒ " if ticked else "☐ "


def _showing_placeholder(sdt: Any) -> bool:
    pr = sdt.find(f"{_W}sdtPr")
    return pr is not None and pr.find(f"{_W}showingPlcHdr") is not None


def text_of(el: Any) -> str:
    """The text of an element as the reader sees it on the page, boxes as ☒/☐."""
    return "".join(_text_parts(el))


def _text_parts(el: Any) -> Iterator[str]:
    for child in el.iterchildren():
        name = _local(child)
        if name == "t":
            yield child.text or ""
        elif name == "tab":
            yield "\t"
        elif name in ("br", "cr"):
            yield "\n"
        elif name == "p":
            yield from _text_parts(child)
            yield "\n"
        elif name == "sym":
            yield _WINGDINGS_BOXES.get((child.get(f"{_W}char") or "").upper(), "")
        elif name == "fldChar":
            yield _legacy_checkbox(child)
        elif name == "sdt":
            state = _checkbox_state(child)
            if state is not None:
                yield "☒ " if state else "☐ "
            elif not _showing_placeholder(child):
                content = child.find(f"{_W}sdtContent")
                if content is not None:
                    yield from _text_parts(content)
        elif name in ("delText", "instrText", "sdtPr", "rPr", "pPr", "tblPr", "trPr", "tcPr"):
            continue
        else:
            yield from _text_parts(child)


# A heading is short; a bold sentence is emphasis, not a heading.
MAX_HEADING_WORDS = 8


def _is_heading_paragraph(p: Any, text: str) -> bool:
    """A paragraph styled as a heading, or set wholly in bold without a colon ("RISK"): it
    opens a part of the form and is never the value of the label above it."""
    if not text.strip() or ":" in text or len(text.split()) > MAX_HEADING_WORDS:
        return False
    style = p.find(f"{_W}pPr/{_W}pStyle")
    if style is not None and style.get(f"{_W}val", "").lower().startswith(("heading", "title")):
        return True
    runs = [r for r in p.iter(f"{_W}r") if "".join(r.itertext()).strip()]
    return bool(runs) and all(_bold(r) for r in runs)


def _bold(run: Any) -> bool:
    bold = run.find(f"{_W}rPr/{_W}b")
    return bold is not None and bold.get(f"{_W}val", "true").lower() not in ("0", "false")


class _Walker:
    def __init__(self) -> None:
        self.items: list[Item] = []
        self.text: list[str] = []
        self.paragraphs: list[TextLine] = []
        self.tables = 0
        self.paragraph_no = 0

    def walk(self, body: Any) -> RawDocument:
        self._block(body)
        self._flush_paragraphs()
        return RawDocument(items=self.items, text="\n".join(self.text))

    def _block(self, container: Any) -> None:
        for child in container.iterchildren():
            name = _local(child)
            if name == "p":
                self._paragraph(child)
            elif name == "tbl":
                self._flush_paragraphs()
                self._table(child)
            elif name == "sdt":
                self._controls(child)
                content = child.find(f"{_W}sdtContent")
                if content is not None and not _showing_placeholder(child):
                    self._block(content)

    def _paragraph(self, p: Any) -> None:
        self.paragraph_no += 1
        self._controls(p)
        text = text_of(p)
        self.text.append(text)
        lines = text_lines(text, Origin.PARAGRAPH, f"para {self.paragraph_no}")
        if len(lines) == 1 and _is_heading_paragraph(p, text):
            lines = [dataclasses.replace(lines[0], heading=True)]
        self.paragraphs.extend(lines)

    def _flush_paragraphs(self) -> None:
        if self.paragraphs:
            self.items.extend(items_from_lines(self.paragraphs, Origin.PARAGRAPH))
            self.paragraphs = []

    def _controls(self, el: Any) -> None:
        """Plain-text content controls titled like a label: a named field the sender filled."""
        for sdt in el.iter(f"{_W}sdt"):
            if _checkbox_state(sdt) is not None or _showing_placeholder(sdt):
                continue
            pr = sdt.find(f"{_W}sdtPr")
            if pr is None:
                continue
            title = pr.find(f"{_W}alias")
            tag = pr.find(f"{_W}tag")
            label = title if title is not None else tag
            name = "" if label is None else (label.get(f"{_W}val") or "")
            content = sdt.find(f"{_W}sdtContent")
            if name and content is not None and is_known_label(name):
                value = text_of(content).strip()
                self.items.append(LabelledValue(name, value, Origin.FORM_FIELD, f"control {name}"))

    def _table(self, tbl: Any) -> None:
        self.tables += 1
        where = f"table {self.tables}"
        rows = [self._row_cells(tr) for tr in tbl.iterchildren(f"{_W}tr")]
        rows = [r for r in rows if any(c.strip() for c in r)]
        for row in rows:
            self.text.append("\t".join(row))
        self._controls(tbl)
        self.items.extend(_table_items(rows, where))

    def _row_cells(self, tr: Any) -> list[str]:
        cells: list[str] = []
        for child in tr.iterchildren():
            name = _local(child)
            if name == "tc":
                cells.append(text_of(child).strip())
            elif name == "sdt":
                content = child.find(f"{_W}sdtContent")
                for tc in [] if content is None else content.iterchildren(f"{_W}tc"):
                    cells.append(text_of(tc).strip())
        return cells


def _table_items(rows: list[list[str]], where: str) -> list[Item]:
    """A Word table as items: a record table, label/value rows, or rows of loose text."""
    items: list[Item] = []
    n = 0
    while n < len(rows):
        cells = tuple(c.replace("\n", " ").strip() for c in rows[n] if c)
        kind = table_kind(cells)
        if kind is not None:
            # Every following row of the same width is a record ("Risk Assessment | Y" too,
            # although its first cell reads like a label).
            records = []
            n += 1
            while n < len(rows) and len(rows[n]) == len(rows[n - 1]):
                records.append(tuple(c.replace("\n", " ").strip() for c in rows[n]))
                n += 1
            headers = tuple(c.replace("\n", " ") for c in cells)
            items.append(Table(headers, tuple(records), Origin.TABLE, where))
            continue
        if _is_header_of_values(rows, n):
            # Labels across the top, values in the row beneath ("Surname | Forenames | DOB").
            items.extend(
                LabelledValue(label.replace("\n", " "), value, Origin.TABLE, where)
                for label, value in zip(rows[n], rows[n + 1], strict=False)
                if label
            )
            n += 2
            continue
        items.extend(_row_items(rows[n], where))
        n += 1
    return items


def _clean(cell: str) -> str:
    return cell.replace("\n", " ").strip().rstrip(":").strip()


def _is_header_of_values(rows: list[list[str]], n: int) -> bool:
    if n + 1 >= len(rows) or len(rows[n]) < 3 or len(rows[n]) != len(rows[n + 1]):
        return False
    return all(is_known_label(_clean(c)) for c in rows[n] if c) and not any(
        is_known_label(_clean(c)) for c in rows[n + 1] if c
    )


def _row_items(row: list[str], where: str) -> list[Item]:
    distinct = [c for n, c in enumerate(row) if c and c not in row[:n]]
    if len(distinct) <= 1:
        # A merged row (Word repeats a merged cell): a heading, or "Label: value" in one cell.
        text = distinct[0] if distinct else ""
        lines = text_lines(text, Origin.TABLE, where)
        return items_from_lines(lines, Origin.TABLE) or [Line(text, Origin.TABLE, where)]
    labels = row[0::2]
    if len(row) >= 4 and len(row) % 2 == 0 and all(is_known_label(_clean(c)) for c in labels if c):
        # Two label/value pairs side by side: "Surname | X | Forenames | Y".
        return [
            LabelledValue(_clean(row[i]), row[i + 1], Origin.TABLE, where)
            for i in range(0, len(row) - 1, 2)
            if row[i]
        ]
    return [LabelledValue(_clean(row[0]), "\n".join(c for c in row[1:] if c), Origin.TABLE, where)]
