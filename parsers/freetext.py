"""Risk assessments written as prose: "RM2000 Very High (12/05/2025); SA07 - high, 3 June 2025".

The forms ask for "risk assessment tools and results" in one box, so officers write a sentence.
spaCy's rule-based PhraseMatcher finds the named tools (whatever their spelling: "Risk Matrix
2000", "RM 2000", "LS/CMI", "HCR20"); the words after each tool, up to the next, give its result
and date. Only ``spacy.blank("en")`` is used: no statistical model is downloaded or needed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

# Canonical tool name -> the spellings seen on forms (domain.md §3).
RISK_TOOLS: dict[str, tuple[str, ...]] = {
    "RM2000": ("RM2000", "RM 2000", "RM-2000", "Risk Matrix 2000", "Risk Matrix", "RM2K"),
    "SA07": (
        "SA07",
        "SA 07",
        "SA-07",
        "Stable and Acute 2007",
        "Stable & Acute 2007",
        "Stable and Acute",
        "Stable 2007",
        "Acute 2007",
        "Stable/Acute 2007",
    ),
    "LS/CMI": (
        "LS/CMI",
        "LSCMI",
        "LS-CMI",
        "LS CMI",
        "Level of Service/Case Management Inventory",
        "Level of Service Case Management Inventory",
    ),
    "HCR-20": ("HCR-20", "HCR20", "HCR 20", "HCR-20 V3", "HCR-20v3", "HCR20V3"),
    "FRAME": ("FRAME", "Framework for Risk Assessment Management and Evaluation"),
    "SARN": ("SARN", "Structured Assessment of Risk and Need"),
    "RSVP": ("RSVP", "Risk for Sexual Violence Protocol"),
    "SARA": ("SARA", "Spousal Assault Risk Assessment"),
    "Static-99": ("Static-99", "Static 99", "Static-99R"),
    "OASys": ("OASys", "OASYS"),
    "PCL-R": ("PCL-R", "PCLR", "Psychopathy Checklist"),
}

_DATE_IN_TEXT = re.compile(
    r"\b\d{4}-\d{2}-\d{2}\b"
    r"|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?[A-Za-z]{3,9}\.?,?\s+\d{2,4}\b"
    r"|\b[A-Za-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b",
)
# Words between a tool and its result that are not the result.
_FILLER = re.compile(
    r"^(?:[\s:;,()\-–=]|result(?:ed)?\b|score[sd]?\b|assessed\b|as\b|is\b|was\b|of\b|at\b|"
    r"completed\b|dated?\b|on\b|outcome\b|rating\b)+",
    re.I,
)
_TRAILING = re.compile(r"(?:[\s:;,.()\-–=]|\band\b)+$", re.I)
_DATE_CONNECTOR = re.compile(
    r"(?:\b(?:completed|assessed|dated?|reviewed|undertaken)\b)?[\s,]*(?:\bon\b)?[\s(]*$", re.I
)


@lru_cache(maxsize=1)
def _pipeline() -> tuple[Any, Any]:
    # Imported here: spaCy costs most of a second to import, and most commands never need it.
    import spacy
    from spacy.matcher import PhraseMatcher

    nlp = spacy.blank("en")
    matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    for canonical, spellings in RISK_TOOLS.items():
        matcher.add(canonical, [nlp.make_doc(s) for s in spellings])
    return nlp, matcher


def find_tools(text: str) -> list[tuple[str, int, int]]:
    """(canonical tool, start, end) character spans, longest match first, no overlaps."""
    from spacy.util import filter_spans

    nlp, matcher = _pipeline()
    doc = nlp.make_doc(text)
    matches = [(nlp.vocab.strings[mid], doc[s:e]) for mid, s, e in matcher(doc)]
    name_of = {(span.start, span.end): name for name, span in matches}
    kept = filter_spans([span for _name, span in matches])
    return [(name_of[(span.start, span.end)], span.start_char, span.end_char) for span in kept]


def risk_assessments(text: str, to_iso_date: Callable[[str], str | None]) -> list[dict[str, str]]:
    """Every (tool, result, date) the prose names, in order."""
    tools = find_tools(text)
    found: list[dict[str, str]] = []
    for n, (tool, _start, end) in enumerate(tools):
        stop = tools[n + 1][1] if n + 1 < len(tools) else len(text)
        segment = re.split(r"[;\n]", text[end:stop], maxsplit=1)[0]
        entry = {"tool": tool}
        date_match = _DATE_IN_TEXT.search(segment)
        if date_match is not None:
            iso = to_iso_date(date_match.group())
            if iso:
                entry["date"] = iso
            # "completed on 12/05/2025": the connector belongs to the date, not the result.
            before = _DATE_CONNECTOR.sub("", segment[: date_match.start()])
            segment = before + " " + segment[date_match.end() :]
        result = _TRAILING.sub("", _FILLER.sub("", segment.strip())).strip(" .")
        if result:
            entry["result"] = result
        found.append(entry)
    return found
