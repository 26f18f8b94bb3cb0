"""A full name in one box -> surname and forenames.

Forms write "MACLEOD, John Paul", "John Paul MACLEOD" or "John Paul Macleod". The surname is
the part before a comma; else the word(s) in capitals; else the last word.
"""

from __future__ import annotations

import re

_TITLES = frozenset("mr mrs ms miss mx dr".split())


def split_full_name(text: str) -> tuple[str, str] | None:
    """(SURNAME, forenames); the surname upper-cased as contract.md asks."""
    name = " ".join(text.split()).strip(" ,.")
    if not name:
        return None
    if "," in name:
        surname, _comma, forenames = name.partition(",")
        return surname.strip().upper(), forenames.strip()
    words = [w for w in name.split() if w.lower().strip(".") not in _TITLES]
    if not words:
        return None
    capitals = [w for w in words if re.fullmatch(r"[A-Z][A-Z'\-]+", w)]
    if capitals and len(capitals) < len(words):
        surname = " ".join(capitals)
        forenames = " ".join(w for w in words if w not in capitals)
        return surname.upper(), forenames
    if len(words) == 1:
        return words[0].upper(), ""
    return words[-1].upper(), " ".join(words[:-1])
