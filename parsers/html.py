"""An HTML e-mail body -> lines of text, keeping table cells apart.

Outlook sends forms pasted into a message as HTML tables; each row becomes one line with its
cells separated by tabs, so that the line reader sees "label<TAB>value".
"""

from __future__ import annotations

from html.parser import HTMLParser

_BLOCKS = frozenset("p div br tr li h1 h2 h3 h4 h5 h6 table title section article".split())
_CELLS = frozenset({"td", "th"})
_SKIP = frozenset({"script", "style", "head"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._cell_started = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping += 1
        elif tag in _CELLS:
            if self._cell_started:
                self.parts.append("\t")
            self._cell_started = True
        elif tag in _BLOCKS:
            self.parts.append("\n")
            if tag == "tr":
                self._cell_started = False

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self._skipping:
            self._skipping -= 1
        elif tag in _BLOCKS and tag != "br":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(" ".join(data.split()) if data.strip() else "")


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = ("".join(extractor.parts)).splitlines()
    return "\n".join(line.strip() for line in lines if line.strip())
