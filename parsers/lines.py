"""Lines of text -> labelled values, tables and loose lines.

Shared by every reader whose document is, in the end, lines of text: a PDF text layer (whose
table cells arrive as runs of words separated by wide gaps), an e-mail body, OCR output, and
the paragraphs of a Word document. A line becomes a labelled value when it starts with a label
we know ("Surname MACLEOD", "D.O.B.: 7.3.84", a label cell beside a value cell); a label alone
takes its value from the following lines; lines that follow a value and sit in the value column
(or simply follow it, in plain text) continue it; a header row we know ("Tool | Result | Date")
opens a table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from parsers.fieldspecs import LIST_FIELDS
from parsers.labels import (
    STOP_WORDS,
    is_known_label,
    is_section_marker,
    match_heading,
    match_label,
)
from parsers.model import Item, LabelledValue, Line, Origin, Table
from parsers.normalise import ATTACHED_ANSWER
from parsers.tables import table_kind

# "Label: value", "Label - value" (a spaced dash only: hyphens live inside values).
_COLON = re.compile(r"^(?P<label>[^:\n]{1,80}?)\s*(?::|\s[-–]\s)\s*(?P<value>.*)$")
# The colon of a URL is not a label separator.
_NOT_A_LABEL = re.compile(r"(https?$)|(mailto$)", re.I)
# Nor is the colon of a time ("09:30"); "Level 2: N/A" is a label.
_TIME = re.compile(r"\d$")
# An item answered in brackets ("RMO report (yes)") is a value, never a heading.
_ANSWERED = re.compile(rf"[(\[]\s*{ATTACHED_ANSWER}\s*[)\]]\s*$", re.I)
# Cells of a line: tabs, pipes, or runs of 3+ spaces (text layers and OCR keep column gaps).
_CELL_SPLIT = re.compile(r"\t+|\s*\|\s*|\s{3,}")
# Words that carry a sentence on: after a label's words they show the line is prose.
_SENTENCE_WORDS = STOP_WORDS | frozenset(
    "can could will would should must may might shall be been being had not cannot".split()
)
# A label is at most this many words; longer text before a colon is a sentence.
MAX_LABEL_WORDS = 10
# Look for a known label in at most this many leading words of a line.
MAX_PREFIX_WORDS = 9
# After a one-word label ("Court Hamilton Sheriff Court"), a value runs to at most this many words.
MAX_SINGLE_WORD_VALUE = 8
# After a longer label written without a colon, a value runs to at most this many words.
MAX_PREFIX_VALUE_WORDS = 15
# A value that starts in lower case and runs to this many words is the rest of a sentence.
MIN_PROSE_WORDS = 6


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line: its cells (one when the line has no column gaps) and where it is."""

    cells: tuple[str, ...]
    where: str
    origin: Origin = Origin.TEXT
    # Indented under a label ("Documents enclosed:" then "    CJSW report - attached: Yes"):
    # an item of that label's value, whatever it looks like.
    indented: bool = False
    # For a PDF text layer, whose table columns are known from the words' positions: a line
    # continues a value only when it starts in the value column.
    columns_known: bool = False
    in_value_column: bool = False
    # Set by a reader that knows the line is a heading (a Word heading style, bold alone).
    heading: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.cells)


def split_cells(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in _CELL_SPLIT.split(text) if c.strip())


def text_lines(text: str, origin: Origin, where_prefix: str = "line") -> list[TextLine]:
    """Plain text (an e-mail body, OCR output, Word paragraphs) as lines of cells."""
    return [
        TextLine(split_cells(raw), f"{where_prefix} {n}", origin, indented=raw[:1] in (" ", "\t"))
        for n, raw in enumerate(text.splitlines(), start=1)
    ]


def _clean_label(label: str) -> str:
    return label.strip().rstrip(":").strip()


def _known(label: str) -> bool:
    label = _clean_label(label)
    return bool(label) and (is_known_label(label) or match_label(label) is not None)


def _prefix_label(text: str) -> tuple[str, str] | None:
    """ "Date of Birth 07/03/1984" -> ("Date of Birth", "07/03/1984"): the longest leading run
    of words that is exactly a label we know."""
    words = text.split()
    if not words or words[0].lower() in STOP_WORDS:
        return None  # "The assessments were discussed..." is a sentence, not a label
    for n in range(min(len(words) - 1, MAX_PREFIX_WORDS), 0, -1):
        candidate = " ".join(words[:n])
        rest = words[n:]
        if len(rest) > (MAX_SINGLE_WORD_VALUE if n == 1 else MAX_PREFIX_VALUE_WORDS):
            continue  # a label's words then a long run of words is prose
        if any(":" in word for word in words[: n - 1]):
            continue  # a label ends at its colon: "Risk is to: Children" is not "risk to children"
        if _reads_as_sentence(words[n - 1], rest):
            continue  # "Level 3 can commit these.": a sentence that wrapped, not a label
        if is_known_label(_clean_label(candidate)):
            return _clean_label(candidate), " ".join(rest)
    return None


def _reads_as_sentence(last_label_word: str, rest: list[str]) -> bool:
    """ "lead agency is sufficient", "Level 3 can commit these": a verb or a joining word
    where a label would end or its value begin."""
    if last_label_word.lower() in _SENTENCE_WORDS:
        return True
    return any(word.lower() in _SENTENCE_WORDS for word in rest[:2])


def _colon_pair(text: str) -> tuple[str, str] | None:
    """ "Label: value" at the first colon outside brackets; failing that, "Label - value"."""
    depth = 0
    for n, char in enumerate(text):
        depth += char in "(["
        depth -= char in ")]"
        if char == ":" and depth <= 0:
            label, value = text[:n].strip(), text[n + 1 :].strip()
            if _is_label(label) and not (_TIME.search(label) and text[n + 1 : n + 2].isdigit()):
                return label, value
            return None
    found = _COLON.match(text)
    if not found:
        return None
    label = found["label"].strip()
    return (label, found["value"].strip()) if _is_label(label) else None


def _is_label(text: str) -> bool:
    return bool(text) and not _NOT_A_LABEL.search(text) and len(text.split()) <= MAX_LABEL_WORDS


@dataclass
class _Open:
    """A labelled value still collecting lines."""

    label: str
    values: list[str]
    origin: Origin
    where: str
    continues: bool = True
    # "Label:" with nothing after the colon announces a value on the following lines.
    announced: bool = False
    # The cells of the line that opened it, while a wrapped label may still complete it.
    cells: tuple[str, ...] = ()
    # Opened by a heading that is also a label: any label-like line below ends it.
    tentative: bool = False


@dataclass
class _State:
    origin: Origin
    items: list[Item] = field(default_factory=list)
    open: _Open | None = None
    table: tuple[tuple[str, ...], list[tuple[str, ...]], str] | None = None

    def close(self) -> None:
        if self.open is not None:
            value = "\n".join(v for v in self.open.values if v)
            self.items.append(
                LabelledValue(self.open.label, value, self.open.origin, self.open.where)
            )
            self.open = None
        if self.table is not None:
            headers, rows, where = self.table
            self.items.append(Table(headers, tuple(rows), self.origin, where))
            self.table = None

    def start(
        self,
        label: str,
        value: str,
        origin: Origin,
        where: str,
        cells: tuple[str, ...] = (),
        *,
        tentative: bool = False,
    ) -> None:
        self.close()
        values = [value] if value else []
        self.open = _Open(
            _clean_label(label), values, origin, where, cells=cells, tentative=tentative
        )


def items_from_lines(lines: Iterable[TextLine], origin: Origin) -> list[Item]:
    """Turn lines into items, in order; ``origin`` is given to tables and loose lines."""
    state = _State(origin)
    for line in lines:
        _take(state, line)
    state.close()
    return state.items


def _take(state: _State, line: TextLine) -> None:
    cells = line.cells
    if not cells:
        # After a blank line a value goes on only if it plainly does (a label still waiting
        # for its value, or a wrapped sentence that resumes in lower case).
        if state.open is not None:
            state.open.continues = not state.open.values
        return
    text = line.text
    if state.table is not None and _take_table_row(state, line):
        return
    kind = table_kind(cells)
    if kind is not None:
        state.close()
        state.table = (cells, [], line.where)
        return
    if _is_heading(line):
        state.close()
        state.items.append(Line(text, state.origin, line.where))
        if not line.heading and is_known_label(text):
            # "Responsible medical officer" heads the RMO's part and asks for the RMO's name:
            # when a value follows on the next line, it is that label's.
            state.start(text, "", line.origin, line.where, tentative=True)
        return
    if state.open is not None and _belongs_to_announced(state.open, line):
        state.open.values.append(text)
        return
    if state.open is not None and _wraps_both(state.open, line):
        return
    if state.open is not None and _resumes_wrapped_value(state.open, line):
        state.open.values.append(text)
        return
    pair = _pair(line)
    if pair is not None and not (
        _awaiting_value(state) and not _starts_field(pair, text, state.open)
    ):
        label, value, origin = pair
        state.start(label, value, origin, line.where, line.cells)
        if state.open is not None and not value and text.rstrip().endswith(":"):
            state.open.announced = True
        return
    if state.open is not None and _continues(state.open, line):
        state.open.values.append(text)
        return
    if state.open is not None and line.columns_known and _extends_label(state.open, text):
        return
    state.close()
    state.items.append(Line(text, state.origin, line.where))


def _starts_field(pair: tuple[str, str, Origin], text: str, waiting: _Open | None) -> bool:
    """Under a label still waiting for its value, only a plain label starts the next field:
    "Court" then "Airdrie Sheriff Court", or "Proposed level" then "Level 1", are a label and
    its value, though the value's words resemble a label."""
    label, value, _origin = pair
    if value or text.rstrip().endswith(":") or (waiting is not None and waiting.tentative):
        return _known(label)
    return is_known_label(_clean_label(label))


def _awaiting_value(state: _State) -> bool:
    """A label stands alone and its value has not started: the next lines are the value, even
    one that looks like "Something - something"."""
    return state.open is not None and not state.open.values


def _is_heading(line: TextLine) -> bool:
    """ "Referrer details" on a line of its own opens a section; "Referrer: DS Smith" does not."""
    if line.heading:
        return True
    if line.in_value_column or len(line.cells) != 1 or _ANSWERED.search(line.text):
        return False
    if is_section_marker(line.text):
        return True
    return ":" not in line.text and match_heading(line.text) is not None


def _continues(open_value: _Open, line: TextLine) -> bool:
    if line.columns_known:
        return line.in_value_column
    if len(line.cells) > 1 and open_value.values:
        return False  # a new row of label and value
    return open_value.continues or _resumes_sentence(line.text) or _unfinished_sentence(open_value)


def _unfinished_sentence(open_value: _Open) -> bool:
    """A sentence of prose that stops without its full stop ("...; only") goes on below; a
    name in capitals ("North Lanarkshire Council Justice Social Work") is no sentence."""
    words = " ".join(open_value.values).split()
    lower = sum(word[:1].islower() for word in words)
    return (
        len(words) >= MIN_PROSE_WORDS and lower >= MIN_PROSE_WORDS // 2 and words[-1][-1:].isalpha()
    )


def _belongs_to_announced(open_value: _Open, line: TextLine) -> bool:
    """Lines under "Documents attached:" are its items until a blank line or the next
    "Label: value", even when an item reads like a label ("Risk Assessment (yes)")."""
    if line.columns_known or not open_value.continues:
        return False
    if line.indented and (open_value.announced or open_value.values):
        return True
    if not open_value.announced or len(line.cells) != 1:
        return False
    pair = _colon_pair(line.text)
    # "SA07 - High - 23/02/2027" is an item; "Lead agency - Police" or "Other: ..." is not,
    # except under a label that announces a list ("Attachments:" then "Risk Assessment - Y").
    if pair is None or (
        ":" not in line.text and (not _known(pair[0]) or _announces_list(open_value.label))
    ):
        return True
    # "Rationale:" then "Very high risk of serious harm: recent breaches ...": a sentence with a
    # colon in it, not the label "risk of serious harm" that its first words resemble.
    return (
        not open_value.values and not is_known_label(_clean_label(pair[0])) and _is_prose(pair[1])
    )


def _announces_list(label: str) -> bool:
    match = match_label(label)
    return match is not None and match.field in LIST_FIELDS


def _is_prose(text: str) -> bool:
    return text[:1].islower() and len(text.split()) >= MIN_PROSE_WORDS


def _resumes_wrapped_value(open_value: _Open, line: TextLine) -> bool:
    """A wrapped value resumes in lower case even when its first words look like a label
    ("... management by the" then "lead agency is sufficient; ...")."""
    if line.columns_known or len(line.cells) != 1 or not open_value.values:
        return False
    return line.text[:1].islower() and _colon_pair(line.text) is None


def _resumes_sentence(text: str) -> bool:
    return text[:1].islower() or text[:1] in "(,;"


def _wraps_both(open_value: _Open, line: TextLine) -> bool:
    """A label and its value both wrap, so the next line holds the rest of each: in a PDF
    ("Why can the risk not be managed | Level 2 cannot..." then "at Level 2? | 24-hour...")
    or OCR ("Level 3: what cannot be | Level 2 cannot..." then "delivered at Level 2 | with
    24-hour staffing...")."""
    if len(line.cells) < 2 or not open_value.values or line.in_value_column:
        return False
    head, rest = line.cells[0], " ".join(line.cells[1:])
    opened_by = open_value.cells
    label_cell = opened_by[0] if len(opened_by) >= 2 else open_value.label
    longer = f"{label_cell} {head}"
    if not _known(label_cell) and _known(longer):
        # Only together a label we know: the first line's label cell was all label.
        open_value.label = _clean_label(longer)
        if len(opened_by) >= 2 and len(open_value.values) == 1:
            open_value.values = [" ".join(opened_by[1:])]
        open_value.cells = ()
    elif line.columns_known or len(line.cells) != 2 or not head[:1].islower() or _known(head):
        return False
    else:
        open_value.label = f"{open_value.label} {head}"
    open_value.values.append(rest)
    return True


def _extends_label(open_value: _Open, text: str) -> bool:
    """A label that wraps inside its cell ("Date of" / "Birth") continues on the next line."""
    longer = f"{open_value.label} {text}"
    if len(longer.split()) > MAX_LABEL_WORDS or not _known(longer):
        return False
    open_value.label = longer
    return True


def _pair(line: TextLine) -> tuple[str, str, Origin] | None:
    cells = line.cells
    if line.in_value_column:
        return None
    if len(cells) >= 2 and _known(cells[0]):
        # A label cell beside its value cell (a table in a PDF, columns in OCR output).
        return cells[0], " ".join(cells[1:]), line.origin
    text = line.text
    colon = _colon_pair(text)
    if colon is not None and _known(colon[0]):
        return colon[0], colon[1], line.origin
    if _known(text) and len(text.split()) <= MAX_LABEL_WORDS:
        return text, "", line.origin
    # A label never runs across a column gap into the value cell.
    prefixed = _prefix_label(text) if len(cells) == 1 else None
    if prefixed is not None:
        return prefixed[0], prefixed[1], line.origin
    if colon is not None and colon[1] and len(colon[0].split()) <= 6:
        # An unknown label: kept so that its value does not run into the previous field.
        return colon[0], colon[1], line.origin
    if len(cells) >= 2 and len(cells[0].split()) <= MAX_LABEL_WORDS and not cells[0][:1].islower():
        # A row of a table whose label we do not know: it still ends the previous value.
        return cells[0], " ".join(cells[1:]), line.origin
    return None


def _take_table_row(state: _State, line: TextLine) -> bool:
    assert state.table is not None
    _headers, rows, _where = state.table
    cells = line.cells
    if len(cells) < 2 or (_known(cells[0]) and not _looks_like_row(cells)):
        state.close()
        return False
    rows.append(cells)
    return True


def _looks_like_row(cells: tuple[str, ...]) -> bool:
    """A risk-tool row ("RM2000 | High | 12/05/2025") may start with a word that is also a
    label ("Assessment"); a row with a date or a yes/no in it is still a row."""
    return any(re.search(r"\d|^(yes|no|y|n)$", c, re.I) for c in cells[1:])


def iter_values(items: Iterable[Item]) -> Iterator[LabelledValue]:
    for item in items:
        if isinstance(item, LabelledValue):
            yield item
