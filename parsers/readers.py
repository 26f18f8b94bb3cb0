"""One reader per document format, chosen by what the bytes are (``parsers.sniff``)."""

from __future__ import annotations

from parsers.docx import DocxFormReader
from parsers.model import FormReader
from parsers.ocr import ImageFormReader
from parsers.pdf import PdfFormReader
from parsers.sniff import Kind
from parsers.text import HtmlFormReader, TextFormReader

READERS: dict[Kind, FormReader] = {
    Kind.PDF: PdfFormReader(),
    Kind.DOCX: DocxFormReader(),
    Kind.TEXT: TextFormReader(),
    Kind.HTML: HtmlFormReader(),
    Kind.IMAGE: ImageFormReader(),
}
