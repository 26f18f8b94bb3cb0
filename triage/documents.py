"""Were the supporting documents the form lists really sent? (triage.md rule 22)"""

from __future__ import annotations

import re

# Usual abbreviations of the supporting documents (domain.md §5).
ABBREVIATIONS = {
    "rmp": "risk management plan",
    "cjsw": "criminal justice social work report",
    "icm": "integrated case management report",
    "ra": "risk assessment",
}
# Words that do not identify a document.
_FILLER = frozenset("a an and the of for to copy latest current draft report document".split())


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _significant(name: str) -> set[str]:
    return {w for w in _words(name) if w not in _FILLER}


def matches(listed: str, filename: str) -> bool:
    """ "Risk management plan" matches RMP-smith.pdf and risk_management_plan.docx."""
    file_words = set(_words(filename))
    wanted = _significant(listed)
    # Every significant word, or all but one of a long name ("Previous MAPPA minutes" is
    # MAPPA-minutes.pdf).
    needed = len(wanted) - 1 if len(wanted) >= 3 else len(wanted)
    if wanted and len(wanted & file_words) >= needed:
        return True
    for abbreviation, meaning in ABBREVIATIONS.items():
        names_it = abbreviation in _words(listed) or _significant(meaning) <= _significant(listed)
        if names_it and (abbreviation in file_words or _significant(meaning) <= file_words):
            return True
    return False


def unattached(listed: list[str], attachments: tuple[str, ...]) -> list[str]:
    return [name for name in listed if not any(matches(name, f) for f in attachments)]
