"""A full name in one box -> surname and forenames.

Forms write "MACLEOD, John Paul", "John Paul MACLEOD" or "John Paul Macleod". The surname is
the part before a comma; else the word(s) in capitals; else the last word.
"""

from __future__ import annotations

import re

_TITLES = frozenset("mr mrs ms miss mx dr".split())
# A name is a few words, each starting with a letter in capitals (or "mac"/"van"-like
# particles); "notification to the MAPPA Co-ordinator" is a title, not a name.
MAX_NAME_WORDS = 6
_NAME_WORD = re.compile(
    r"^[A-Z\u00C0-\u00DE][\w'\-.]*$|^(?:mac|mc|van|von|de|da|di|du|le|la|o')\S*$"
)


def looks_like_name(text: str) -> bool:
    words = text.replace(",", " ").split()
    return 0 < len(words) <= MAX_NAME_WORDS and all(_NAME_WORD.match(w) for w in words)


def split_full_name(text: str) -> tuple[str, str] | None:
    """(SURNAME, forenames); the surname upper-cased as contract.md asks."""
    name = " ".join(text.split()).strip(" ,.")
    if not name or not looks_like_name(name):
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
