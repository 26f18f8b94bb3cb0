"""A form's document as the Co-ordinator checks a value against it: a PDF's pages drawn as
images (pypdfium2, which pdfplumber already brings), a Word document's paragraphs and tables
as data for an escaped HTML page, an e-mail body as its text. Nothing an agency sent is ever
put on the page as markup: HTML bodies are shown as their text."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any

# Pages drawn at 1.5 x 72 dpi: readable beside the fields without a zoom.
PAGE_SCALE = 1.5
MAX_PAGES_SHOWN = 20  # a form is a few pages; the rest of a long PDF is in the message
MAX_TEXT_CHARS = 100_000
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class DocumentUnreadable(Exception):
    pass


@dataclass(frozen=True, slots=True)
class DocumentView:
    kind: str  # "pdf", "docx", "text", or "none"
    pages: int = 0  # a PDF's pages drawn (numbered from 1)
    blocks: list[tuple[str, object]] = field(
        default_factory=list
    )  # docx: ("p", text) | ("table", rows)
    text: str = ""
    note: str = ""  # why the document cannot be shown, or what was left out


def kind_of(name: str) -> str:
    lowered = name.lower()
    if lowered.endswith(".pdf"):
        return "pdf"
    if lowered.endswith((".docx", ".docm")):
        return "docx"
    return "text"


def pdf_view(data: bytes) -> DocumentView:
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as err:
        return DocumentView("none", note=f"This PDF cannot be drawn ({err}).")
    try:
        total = len(document)
    finally:
        document.close()
    shown = min(total, MAX_PAGES_SHOWN)
    note = f"The first {shown} of {total} pages are shown." if total > shown else ""
    return DocumentView("pdf", pages=shown, note=note)


def pdf_page_png(data: bytes, number: int) -> bytes:
    """Page ``number`` (from 1) as a PNG; DocumentUnreadable if there is no such page."""
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as err:
        raise DocumentUnreadable(str(err)) from err
    try:
        if not 1 <= number <= min(len(document), MAX_PAGES_SHOWN):
            raise DocumentUnreadable(f"no page {number}")
        image = document[number - 1].render(scale=PAGE_SCALE).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return out.getvalue()
    finally:
        document.close()


def docx_view(data: bytes) -> DocumentView:
    """Paragraphs and tables in document order, with what content controls and form fields
    hold (the text the parsers read: parsers.docx.text_of), as text only."""
    import docx

    try:
        body = docx.Document(io.BytesIO(data)).element.body
    except Exception as err:  # python-docx raises several kinds for a broken package
        name = type(err).__name__
        return DocumentView("none", note=f"This Word document cannot be shown ({name}).")
    return DocumentView("docx", blocks=list(_blocks(body)))


def _blocks(parent: Any) -> Iterator[tuple[str, object]]:
    from parsers.docx import text_of

    for child in parent.iterchildren():
        name = child.tag.rpartition("}")[2]
        if name == "p":
            text = text_of(child).strip()
            if text:
                yield ("p", text)
        elif name == "tbl":
            rows = [
                _unmerged([text_of(cell).strip() for cell in row.iterchildren(_W + "tc")])
                for row in child.iterchildren(_W + "tr")
            ]
            yield ("table", rows)
        elif name in ("sdt", "sdtContent", "customXml"):  # a block-level content control
            yield from _blocks(child)


def _unmerged(row: list[str]) -> list[str]:
    """python-docx repeats a merged cell's text in each grid column it spans: show it once."""
    shown: list[str] = []
    for text in row:
        if not shown or text != shown[-1]:
            shown.append(text)
    return shown


def body_view(raw: bytes) -> DocumentView:
    """The e-mail's body as text (its HTML part as text, never as markup)."""
    from parsers.html import html_to_text

    message = BytesParser(policy=policy.default).parsebytes(raw)
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return DocumentView("none", note="The message has no body text.")
    try:
        content = body.get_content()
    except (LookupError, ValueError):
        return DocumentView("none", note="The message's body cannot be decoded.")
    if body.get_content_subtype() == "html":
        content = html_to_text(content)
    note = "The text is cut short here." if len(content) > MAX_TEXT_CHARS else ""
    return DocumentView("text", text=content[:MAX_TEXT_CHARS], note=note)
