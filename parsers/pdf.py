"""PDF forms: the text layer (with pdfplumber), fillable fields, and scans.

The text layer is read word by word with positions, because a form saved from Word is a table:
a wide gap between words separates a label cell from its value cell, and a line that starts in
the value column continues the value above it. Fillable fields (``parsers.acroform``) come first;
a PDF with no text at all is a scan, recognised by ``parsers.ocr`` when tesseract is installed.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

from parsers.acroform import form_items
from parsers.errors import CorruptDocument, EncryptedDocument, LimitExceeded, ParseError
from parsers.limits import Limits
from parsers.lines import TextLine, items_from_lines, text_lines
from parsers.model import Item, Origin, RawDocument
from parsers.ocr import ocr_pdf, tesseract

# Words closer than this (points) belong to one cell; a wider gap separates two cells.
CELL_GAP = 9.0
# Words whose tops differ by less than this (points) sit on one line.
LINE_TOLERANCE = 3.0
# A value column needs this many label/value lines on a page before it is trusted.
MIN_COLUMN_VOTES = 3
COLUMN_SNAP = 4.0
NO_TEXT_WARNING = "no text layer: needs OCR (a scanned form); install tesseract-ocr to read it"
OCR_WARNING = "no text layer: read by OCR, check each value against the scan"


class PdfFormReader:
    def read(self, data: bytes, *, limits: Limits) -> RawDocument:
        import pdfplumber

        try:
            pdf = pdfplumber.open(io.BytesIO(data))
        except Exception as err:  # pdfplumber wraps every pdfminer failure
            raise _translate(err) from err
        with pdf:
            try:
                return self._read(pdf, data, limits)
            except ParseError:
                raise
            except (MemoryError, RecursionError) as err:
                raise LimitExceeded(f"PDF too complex to read ({type(err).__name__})") from err
            except Exception as err:
                raise _translate(err) from err

    def _read(self, pdf: Any, data: bytes, limits: Limits) -> RawDocument:
        pages = pdf.pages
        if len(pages) > limits.max_pages:
            raise LimitExceeded(f"PDF has {len(pages)} pages (limit {limits.max_pages})")
        items: list[Item] = form_items(pdf.doc)
        text_parts: list[str] = []
        for number, page in enumerate(pages, start=1):
            lines = _page_lines(page, number)
            text_parts.extend(line.text for line in lines)
            items.extend(items_from_lines(lines, Origin.TEXT))
            page.flush_cache()
        document = RawDocument(items=items, text="\n".join(text_parts))
        if not any(t.strip() for t in text_parts):
            _read_scan(document, data, limits)
        return document


def _read_scan(document: RawDocument, data: bytes, limits: Limits) -> None:
    program = tesseract()
    if program is None:
        document.warnings.append(NO_TEXT_WARNING)
        return
    text = ocr_pdf(data, limits.max_ocr_pages, program)
    document.text = text
    document.items.extend(items_from_lines(text_lines(text, Origin.OCR, "ocr line"), Origin.OCR))
    document.warnings.append(OCR_WARNING)


def _translate(err: Exception) -> ParseError:
    """pdfminer's many exceptions -> one plain reason."""
    inner = err.args[0] if err.args and isinstance(err.args[0], Exception) else err
    name = type(inner).__name__
    if "Password" in name or "Encrypt" in name:
        return EncryptedDocument("PDF is password-protected: ask for it without a password")
    if name in ("PSEOF", "PDFSyntaxError", "PDFNoValidXRef", "PSSyntaxError", "PDFTypeError"):
        return CorruptDocument(f"damaged or truncated PDF ({name})")
    return CorruptDocument(f"unreadable PDF ({name})")


def _page_lines(page: Any, number: int) -> list[TextLine]:
    words = page.extract_words(x_tolerance=1.5, y_tolerance=LINE_TOLERANCE, keep_blank_chars=True)
    rows: list[list[dict[str, Any]]] = []
    for word in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if rows and abs(rows[-1][0]["top"] - word["top"]) <= LINE_TOLERANCE:
            rows[-1].append(word)
        else:
            rows.append([word])
    rows = [sorted(row, key=lambda w: w["x0"]) for row in rows]
    cells = [c for c in (_cells(row) for row in rows) if c]
    value_x = _value_column(cells)
    if value_x is not None:
        # The value column separates label from value even when a long label runs close to
        # it ("Why can the risk not be managed" | "Level 2 cannot secure ...").
        cells = [c for c in (_cells(row, value_x) for row in rows) if c]
    where = f"p{number}"
    lines = []
    for row in cells:
        texts = tuple(text for text, _x in row)
        in_value = value_x is not None and row[0][1] >= value_x - COLUMN_SNAP
        origin = Origin.TABLE if len(row) > 1 or in_value else Origin.TEXT
        lines.append(
            TextLine(
                texts, where, origin, columns_known=value_x is not None, in_value_column=in_value
            )
        )
    return lines


def _cells(words: list[dict[str, Any]], value_x: float | None = None) -> list[tuple[str, float]]:
    """Words of one line -> (cell text, x where the cell starts)."""
    cells: list[tuple[str, float]] = []
    last_x1 = None
    for word in words:
        text = word["text"].strip()
        if not text:
            continue
        crosses = (
            value_x is not None
            and last_x1 is not None
            and last_x1 < value_x - COLUMN_SNAP <= word["x0"]
        )
        if cells and last_x1 is not None and word["x0"] - last_x1 < CELL_GAP and not crosses:
            cells[-1] = (cells[-1][0] + " " + text, cells[-1][1])
        else:
            cells.append((text, word["x0"]))
        last_x1 = word["x1"]
    return cells


def _value_column(rows: list[list[tuple[str, float]]]) -> float | None:
    """Where value cells start on this page: the commonest x of second cells."""
    votes = Counter(round(row[1][1] / COLUMN_SNAP) for row in rows if len(row) >= 2)
    if not votes:
        return None
    snapped, count = votes.most_common(1)[0]
    return snapped * COLUMN_SNAP if count >= MIN_COLUMN_VOTES else None
