"""Record tables: which kind a header row opens, and which header is which column.

Shared by every reader (a Word table, a PDF text layer's header line, numbered PDF fields) and
by the extractor, so that "Tool | Result | Date" means the same wherever it is written.
"""

from __future__ import annotations

import re

from parsers.labels import label_words
from parsers.synonyms import TABLE_HEADERS

# A header cell is a few words ("Date made", "Attached (Y/N)"); longer text is a value.
MAX_HEADER_WORDS = 5
_NOT_A_HEADER = re.compile(r"\d{2}|[☒☐\[\]]")


def _similarity(header: str, name: str) -> float:
    words, other = label_words(header), label_words(name)
    return len(words & other) / len(words | other) if words and other else 0.0


def columns_for(headers: tuple[str, ...], kind: str) -> dict[str, int] | None:
    """Column name -> header index, each header used once, the closest wording first
    ("Order date" is the date column even though it also says "order")."""
    scores = []
    for column, names in TABLE_HEADERS[kind].items():
        for n, header in enumerate(headers):
            best = max((_similarity(header, name) for name in names), default=0.0)
            if best > 0:
                scores.append((best, column, n))
    chosen: dict[str, int] = {}
    for _score, column, n in sorted(scores, reverse=True):
        if column not in chosen and n not in chosen.values():
            chosen[column] = n
    return chosen if len(chosen) == len(TABLE_HEADERS[kind]) else None


def table_kind(cells: tuple[str, ...]) -> str | None:
    """The record table a header row opens, if it is one: every cell a short header and every
    column of one kind of table present."""
    if len(cells) < 2 or any(
        len(c.split()) > MAX_HEADER_WORDS or _NOT_A_HEADER.search(c) for c in cells
    ):
        return None
    for kind in TABLE_HEADERS:
        columns = columns_for(cells, kind)
        if columns is not None and len(columns) == len(cells):
            return kind
    return None
