"""Values as written on a form -> the normal forms of contract.md.

Pure functions, no clock. Each takes the text as written and returns a ``Normalised`` value,
or None when the box holds nothing ("N/A", "Not known", "-", blank). A value that fails a
check (a PNC check letter, a CHI modulus 11, an impossible date) is kept, marked not valid,
with a short note: the Co-ordinator sees it, and its confidence drops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from parsers.model import FieldValue


@dataclass(frozen=True, slots=True)
class Normalised:
    value: FieldValue
    valid: bool = True
    ambiguous: bool = False
    note: str = ""


# What people write in a box that has nothing to say.
_EMPTY = re.compile(
    r"^(?:n/?a|n\.a\.?|none(?: known)?|nil|not known|not applicable|unknown|n/?k|tbc|tba|"
    r"to be confirmed|-+|–|—|\?|see attached|not provided|no information|nk|\.|"
    r"y\s*/\s*n|yes\s*/\s*no|dd\s*/\s*mm\s*/\s*yy(?:yy)?|select|please select|choose)$",
    re.I,
)


def _blank(text: str) -> bool:
    stripped = " ".join(text.split()).strip(" .:;,")
    return not stripped or _EMPTY.match(stripped) is not None


# Word's and OCR's curly quotes, made plain so that the same words compare equal.
_PLAIN_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})


def to_text(text: str) -> Normalised | None:
    """As written, on one line, with plain quotes."""
    if _blank(text):
        return None
    return Normalised(" ".join(text.translate(_PLAIN_QUOTES).split()))


def to_name_surname(text: str) -> Normalised | None:
    found = to_text(text)
    return None if found is None else Normalised(str(found.value).upper())


def to_gender(text: str) -> Normalised | None:
    found = to_text(text)
    return None if found is None else Normalised(str(found.value).lower())


def to_phone(text: str) -> Normalised | None:
    return to_text(text)


_EMAIL = re.compile(r"[A-Za-z0-9._%+'\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def to_email(text: str) -> Normalised | None:
    found = _EMAIL.search(text)
    return None if found is None else Normalised(found.group().lower())


def to_address(text: str) -> Normalised | None:
    """One line, parts joined with ", " (contract.md)."""
    if _blank(text):
        return None
    parts = [" ".join(p.split()).strip(" ,") for p in re.split(r"[\n,]+", text)]
    return Normalised(", ".join(p for p in parts if p))


_LIST_SPLIT = re.compile(r"\s*(?:\n|;|•|·|\u2022)\s*")
_LIST_SPLIT_DASHES = re.compile(r"\s*(?:\n|;|•|·|\u2022)\s*|\s+-\s+")


def to_list(text: str, *, dashes: bool = True) -> list[str]:
    """Aliases or documents: one per line, or separated by ";", bullets or commas (and " - "
    unless ``dashes`` is false, for entries such as "CJSW report - attached: yes")."""
    if _blank(text):
        return []
    pieces = (_LIST_SPLIT_DASHES if dashes else _LIST_SPLIT).split(text)
    if len([p for p in pieces if p.strip()]) <= 1:
        pieces = _split_commas(text)
    out = []
    for piece in pieces:
        piece = re.sub(r"^\s*(?:[-*]|\d+[.)])\s+", "", piece).strip(" ,.")
        if piece and not _blank(piece):
            out.append(" ".join(piece.split()))
    return out


def _split_commas(text: str) -> list[str]:
    """Split on commas outside brackets ("RMP (draft, v2), CJSW report")."""
    pieces: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += char in "(["
        depth -= char in ")]"
        if char == "," and depth <= 0:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces


# --- dates -------------------------------------------------------------------------------

_MONTHS = {
    m: n
    for n, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for m in names
}
_MONTH_WORD = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4}|\d{2})"
_DATE_PATTERNS = (
    re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b"),
    re.compile(rf"\b{_DAY}\s*[/.\-]\s*(?P<month>\d{{1,2}})\s*[/.\-]\s*{_YEAR}\b"),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH_WORD},?\s+{_YEAR}\b", re.I),
    re.compile(rf"\b{_DAY}[\-/ ]{_MONTH_WORD}[\-/ ]{_YEAR}\b", re.I),
    re.compile(rf"\b{_MONTH_WORD}\s+{_DAY},?\s+{_YEAR}\b", re.I),
)
# A person on a MAPPA form is at least this old: a two-digit birth year is never later.
MIN_AGE_YEARS = 10
# Other dates (SONR end, release) may lie this far ahead of the reference year.
FUTURE_YEARS = 30


def _full_year(written: str, reference_year: int, past: bool) -> int:
    if len(written) == 4:
        return int(written)
    short = int(written)
    latest = reference_year - MIN_AGE_YEARS if past else reference_year + FUTURE_YEARS
    year = (latest // 100) * 100 + short
    return year - 100 if year > latest else year


def to_date(text: str, *, reference_year: int, past: bool = False) -> Normalised | None:
    """Day-first British dates in every common spelling -> YYYY-MM-DD."""
    if _blank(text):
        return None
    for pattern in _DATE_PATTERNS:
        found = pattern.search(text)
        if found is None:
            continue
        month_text = found["month"].lower().rstrip(".")
        month = _MONTHS.get(month_text) if not month_text.isdigit() else int(month_text)
        year = _full_year(found["year"], reference_year, past)
        try:
            return Normalised(date(year, month or 0, int(found["day"])).isoformat())
        except ValueError:
            return Normalised(" ".join(text.split()), valid=False, note="not a real date")
    return Normalised(" ".join(text.split()), valid=False, note="date not recognised")


# --- identifiers --------------------------------------------------------------------------

# The inward code always starts with a digit: "ML10 ORT" is "ML10 0RT" typed or read badly.
_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)\s*([\dO][A-Z]{2})\b", re.I)


# How a form says whether a listed document is attached: "(yes)", "- Y", "attached: No".
ATTACHED_ANSWER = (
    r"(?:attached\s*[:\-]?\s*)?(?P<answer>yes|no|y|n|attached|not attached|to follow|enclosed"
    r"|not enclosed)"
)
ATTACHED_YES = frozenset({"yes", "y", "attached", "enclosed"})


def written_postcode(text: str) -> str:
    """The postcode as written in the text ("" if none), for removing it from an address."""
    found = _POSTCODE.search(text)
    return found.group() if found else ""


def to_postcode(text: str) -> Normalised | None:
    found = _POSTCODE.search(text)
    if found is None:
        return None
    inward = found.group(2).upper()
    return Normalised(
        f"{found.group(1).upper()} {'0' + inward[1:] if inward[0] == 'O' else inward}"
    )


PNC_LETTERS = "ZABCDEFGHJKLMNPQRTUVWXY"
_PNC = re.compile(r"\b(\d{2}|\d{4})\s*/\s*(\d{1,7})\s*([A-Z])\b|\b(\d{2})(\d{6,7})([A-Z])\b", re.I)


def pnc_check_letter(yy: str, serial: str) -> str:
    """The PNC check character: (YY followed by the 7-digit serial) mod 23, over the
    alphabet without I, O and S, with Z for 0."""
    return PNC_LETTERS[int(yy[-2:] + serial.zfill(7)) % 23]


def to_pnc(text: str) -> Normalised | None:
    found = _PNC.search(text)
    if found is None:
        return (
            None
            if _blank(text)
            else Normalised(" ".join(text.split()), valid=False, note="not a PNC ID")
        )
    year, serial, letter = (
        (found.group(1), found.group(2), found.group(3))
        if found.group(1)
        else (found.group(4), found.group(5), found.group(6))
    )
    value = f"{year[-2:]}/{serial}{letter.upper()}"
    expected = pnc_check_letter(year, serial)
    if expected != letter.upper():
        return Normalised(value, valid=False, note=f"PNC check letter should be {expected}")
    return Normalised(value)


_CHI_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def chi_check_digit(first9: str) -> int | None:
    """Modulus 11: weights 10..2; 11 becomes 0, and 10 means no valid CHI ends so."""
    check = 11 - sum(int(d) * w for d, w in zip(first9, _CHI_WEIGHTS, strict=True)) % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def to_chi(text: str, *, dob: str | None = None) -> Normalised | None:
    digits = re.sub(r"[\s\-]", "", text)
    found = re.search(r"\d{10}", digits)
    if found is None:
        return (
            None
            if _blank(text)
            else Normalised(" ".join(text.split()), valid=False, note="not a 10-digit CHI")
        )
    chi = found.group()
    if chi_check_digit(chi[:9]) != int(chi[9]):
        return Normalised(chi, valid=False, note="CHI check digit is wrong")
    try:
        born = date(2000 + int(chi[4:6]), int(chi[2:4]), int(chi[0:2]))
    except ValueError:
        return Normalised(chi, valid=False, note="CHI does not start with a date of birth")
    if dob and dob[2:4] + dob[5:7] + dob[8:10] != f"{born:%y%m%d}":
        return Normalised(chi, valid=False, note="CHI does not match date of birth")
    return Normalised(chi)


# --- categories, levels, risk -------------------------------------------------------------

CATEGORY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "RSO": (
        r"\bcat(?:egory)?\.?\s*(?:1|one)\b",
        r"\brso\b",
        r"registered\s+sex(?:ual)?\s+offender",
        r"sex\s+offender",
        r"\bsonr\b",
    ),
    "RP": (r"restricted\s+patient", r"\brp\b"),
    "CAT3": (
        r"\bcat(?:egory)?\.?\s*(?:3|three)\b",
        r"\borosh\b",
        r"other\s+risk\s+of\s+serious\s+harm",
        r"other\s+person",
    ),
}


def to_category(text: str) -> Normalised | None:
    if _blank(text):
        return None
    written = " ".join(text.split())
    found = [
        c
        for c, patterns in CATEGORY_SYNONYMS.items()
        if any(re.search(p, written, re.I) for p in patterns)
    ]
    if len(found) == 1:
        return Normalised(found[0])
    if len(found) > 1:
        return None  # the printed list of options, not an answer
    if re.search(r"\bcat(?:egory)?\.?\s*(?:2|two)\b", written, re.I):
        return Normalised(
            written, valid=False, note="'Category 2' is ambiguous in Scotland: kept as written"
        )
    return Normalised(written, valid=False, note="not a Scottish MAPPA category, kept as written")


_ROSH = (
    ("very_high", r"\bv(?:ery)?\.?\s*-?\s*high\b|^vh$"),
    ("high", r"\bhigh\b|^h$"),
    ("medium", r"\bmed(?:ium)?\b|\bmoderate\b|^m$"),
    ("low", r"\blow\b|^l$"),
)


def to_rosh(text: str) -> Normalised | None:
    if _blank(text):
        return None
    written = " ".join(text.split()).lower()
    for value, pattern in _ROSH:
        if re.search(pattern, written):
            return Normalised(value)
    return Normalised(" ".join(text.split()), valid=False, note="RoSH rating not recognised")


_TRUE = re.compile(r"^(?:☒|☑|✓|✔|x|yes|y|true|checked|ticked|\[x\])\b", re.I)
_FALSE = re.compile(r"^(?:☐|no|n|false|unchecked|none|nil|\[\s*\])(?:\b|$)", re.I)


_BOTH = re.compile(r"\byes\b.*\bno\b|\bno\b.*\byes\b", re.I)


def to_bool(text: str) -> Normalised | None:
    written = " ".join(text.split())
    if not written or _BOTH.search(written):
        return None  # "Yes / No" is the question's printed choices, not an answer
    if _TRUE.match(written):
        return Normalised(True)
    if _FALSE.match(written):
        return Normalised(False)
    return None


_LEVEL_WORDS = {"one": 1, "two": 2, "three": 3, "1": 1, "2": 2, "3": 3}


def to_level(text: str) -> Normalised | None:
    if _blank(text):
        return None
    found = re.findall(r"(?:level|l)?\s*\b(one|two|three|[123])\b", text, re.I)
    levels = [_LEVEL_WORDS[f.lower()] for f in found]
    if not levels:
        return Normalised(" ".join(text.split()), valid=False, note="level not recognised")
    return Normalised(levels[0], ambiguous=len(set(levels)) > 1)


_AGENCIES = (
    ("police", r"\bpolice\b|\bps\b|constabulary"),
    ("sps", r"prison|\bsps\b|\bhmp\b|\bhmyoi\b"),
    ("health", r"\bnhs\b|health|hospital|\bclinic\b"),
    ("jsw", r"social\s+work|\bcjsw\b|\bjsw\b|council|justice\s+services"),
)


def to_agency_kind(text: str) -> Normalised | None:
    if _blank(text):
        return None
    for kind, pattern in _AGENCIES:
        if re.search(pattern, text, re.I):
            return Normalised(kind)
    return Normalised("other")


_DISPOSALS = (
    ("hospital", r"hospital|compulsion|restriction\s+order|\bcoro\b|treatment\s+direction"),
    (
        "custody",
        r"custod|imprison|extended\s+sentence|lifelong|\bolr\b|\bhmp\b|life\s+sentence|detention",
    ),
    (
        "community",
        r"community|probation|restriction\s+of\s+liberty|\brlo\b|unpaid\s+work|drug\s+treatment|\bcpo\b|\bdttd?o\b|supervised\s+release|supervision",
    ),
)


def to_disposal_type(text: str) -> Normalised | None:
    if _blank(text):
        return None
    for kind, pattern in _DISPOSALS:
        if re.search(pattern, text, re.I):
            return Normalised(kind)
    return Normalised("other")


_NUMBER_WORDS = {"two": 2, "three": 3, "five": 5, "seven": 7, "ten": 10, "six": 6, "twelve": 12}


def to_sonr_period(text: str) -> Normalised | None:
    if _blank(text):
        return None
    if re.search(r"indefinite|life", text, re.I):
        return Normalised("indefinite")
    found = re.search(
        r"(\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS) + r")\s*(years?|yrs?|months?)", text, re.I
    )
    if found is None:
        return Normalised(" ".join(text.split()), valid=False, note="SONR period not recognised")
    amount = found.group(1).lower()
    number = str(_NUMBER_WORDS.get(amount, amount))
    unit = "months" if found.group(2).lower().startswith("month") else "years"
    return Normalised(f"{number} {unit}")


_ORDERS = (
    ("SUPERVISED_RELEASE", r"supervised\s+release\s+order"),
    ("SHPO", r"sexual\s+harm\s+prevention\s+order|\bshpo\b"),
    ("SRO", r"sexual\s+risk\s+order"),
    ("SOPO", r"sexual\s+offences?\s+prevention\s+order|\bsopo\b"),
    ("RSHO", r"risk\s+of\s+sexual\s+harm\s+order|\brsho\b"),
    ("FTO", r"foreign\s+travel\s+order|\bfto\b"),
    ("NO", r"\bnotification\s+order\b"),
)
# Three or more orders named with no date among them is a list of what could be written.
OPTION_LIST_SIZE = 3
_BARE_SRO = re.compile(r"\bsro\b", re.I)


def to_order_types(text: str, *, reference_year: int) -> Normalised | None:
    """Every order named, in order, each with the date written right after it, if any."""
    if _blank(text):
        return None
    found = _order_mentions(text)
    ambiguous = any(kind == "SRO?" for _s, _e, kind in found)
    orders: list[dict[str, str]] = []
    for n, (_start, end, kind) in enumerate(found):
        stop = found[n + 1][0] if n + 1 < len(found) else len(text)
        entry = {"type": kind.rstrip("?")}
        when = to_date(text[end:stop], reference_year=reference_year)
        if when is not None and when.valid:
            entry["date"] = str(when.value)
        if entry not in orders:
            orders.append(entry)
    if not orders:
        return None
    if len(orders) >= OPTION_LIST_SIZE and not re.search(r"\d", text):
        return None  # "(SHPO, SRO, SOPO, FTO)": the printed choices, not an answer
    note = "'SRO' may be a Sexual Risk Order or a Supervised Release Order" if ambiguous else ""
    return Normalised(orders, ambiguous=ambiguous, note=note)


def _order_mentions(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each order named; a bare "SRO" is kind "SRO?" (ambiguous). A name
    followed by its own abbreviation ("Sexual Harm Prevention Order (SHPO)") is one mention."""
    found: list[tuple[int, int, str]] = []
    for kind, pattern in _ORDERS:
        for match in re.finditer(pattern, text, re.I):
            found.append((match.start(), match.end(), kind))
    named = [(s, e) for s, e, _k in found]
    for match in _BARE_SRO.finditer(text):
        if not any(s <= match.start() < e for s, e in named):
            found.append((match.start(), match.end(), "SRO?"))
    found.sort()
    merged: list[tuple[int, int, str]] = []
    for start, end, kind in found:
        if merged:
            last_start, last_end, last_kind = merged[-1]
            one = _one_order(last_kind, kind)
            if one is not None and re.fullmatch(r"[\s(\[]*", text[last_end:start]):
                merged[-1] = (last_start, max(end, last_end), one)
                continue
        merged.append((start, end, kind))
    return merged


def _one_order(first: str, second: str) -> str | None:
    """The order two adjacent mentions both name, or None. A bare "SRO" beside the name it
    abbreviates takes that name's meaning."""
    if first == second:
        return first
    pair = {first, second}
    for meaning in ("SRO", "SUPERVISED_RELEASE"):
        if pair == {"SRO?", meaning}:
            return meaning
    return None


_RP_ORDERS = (
    ("CORO", r"compulsion\s+order|\bcoro\b|\bco\s*\+\s*ro\b|restriction\s+order"),
    ("HD", r"hospital\s+direction|\bhd\b"),
    ("TTD", r"transfer\s+for\s+treatment|\bttd\b"),
)


def to_rp_order_type(text: str) -> Normalised | None:
    if _blank(text):
        return None
    for kind, pattern in _RP_ORDERS:
        if re.search(pattern, text, re.I):
            return Normalised(kind)
    return Normalised(
        " ".join(text.split()), valid=False, note="restricted-patient order not recognised"
    )
