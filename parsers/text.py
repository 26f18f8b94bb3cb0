"""Forms typed as plain text (an e-mail body, a ``.txt`` file) or pasted as HTML."""

from __future__ import annotations

from parsers.html import html_to_text
from parsers.limits import Limits
from parsers.lines import items_from_lines, text_lines
from parsers.model import Origin, RawDocument
from parsers.sniff import decode_text


def read_text(text: str, origin: Origin = Origin.TEXT) -> RawDocument:
    lines = text_lines(text, origin)
    return RawDocument(items=items_from_lines(lines, origin), text=text)


class TextFormReader:
    """A ``.txt`` file or a plain-text e-mail body."""

    def read(self, data: bytes, *, limits: Limits) -> RawDocument:
        return read_text(decode_text(data))


class HtmlFormReader:
    """An HTML e-mail body or saved web page."""

    def read(self, data: bytes, *, limits: Limits) -> RawDocument:
        return read_text(html_to_text(decode_text(data)))
