"""Repairs for the few OCR misreadings that a field's own grammar makes certain.

Tesseract confuses glyphs of similar shape. Most confusions cannot be undone, but a few can,
because the field says what may stand there: a reference number never holds a lone ")" where
a letter belongs ("26/0764855)" is "26/0764855J"), and a name never starts with a lower-case
"l" ("lain" is "Iain", "Mcllwraith" is "McIlwraith"). Only values read by OCR are repaired.
"""

from __future__ import annotations

import re

# A closing bracket glued to a letter or digit inside a reference, with no opening one.
_BRACKET_FOR_J = re.compile(r"(?<=[A-Za-z0-9])[)\]}](?=$|[\s/\-])")
# "l" where a capital letter must stand: a name's first letter, or the letter after "Mc".
_L_FOR_I = re.compile(r"\b(Mc)?l(?=[a-z])")

_REFERENCE_FIELDS = frozenset(
    {"ids.pnc", "ids.cro", "ids.chs", "ids.sps", "ids.visor", "ids.sw_ref"}
)
_NAME_FIELDS = frozenset(
    {
        "person.name",
        "person.surname",
        "person.forenames",
        "person.aliases",
        "referrer.name",
        "manager.name",
        "rp.rmo",
        "rp.mho",
    }
)


def repair(field: str, text: str) -> str:
    if field in _REFERENCE_FIELDS and "(" not in text and "[" not in text:
        return _BRACKET_FOR_J.sub("J", text)
    if field in _NAME_FIELDS:
        return _L_FOR_I.sub(lambda m: f"{m.group(1) or ''}I", text)
    return text
