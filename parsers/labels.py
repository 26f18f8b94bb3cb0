"""Finding a field by the meaning of its label.

Forms in circulation word the same question many ways ("Date of Birth", "D.O.B.", "Birth
date", "DOB (dd/mm/yyyy)"), and editions move rows about. So a label is never compared with
one template: it is reduced to a set of canonical words (case, punctuation, word order, plural
and common abbreviations do not matter) and scored against the synonym table of every field
(``parsers.synonyms``). A label that says too little on its own ("Name", "Date", "Telephone")
is read together with the heading of the section it sits in ("Referrer details" + "Name").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from parsers.synonyms import FIELD_LABELS, GENERIC_LABELS, SECTION_HEADINGS

# Words that carry no meaning in a label: "Date *of* Birth", "Name *of the* offender".
STOP_WORDS = frozenset(
    "a an and are any as at for from has have if in is it of on or please the their this to "
    "was were what which who whom with where does do".split()
)

# Spellings that mean the same word on a form.
WORD_EQUIVALENTS = {
    "no": "number",
    "num": "number",
    "nos": "number",
    "nr": "number",
    "ref": "reference",
    "refs": "reference",
    "tel": "telephone",
    "phone": "telephone",
    "telno": "telephone",
    "mob": "mobile",
    "dob": "birth date",
    "d": "d",
    "email": "email",
    "mail": "mail",
    "addr": "address",
    "pc": "postcode",
    "authorized": "authorised",
    "authorizing": "authorising",
    "authorization": "authorisation",
    "organisation": "agency",
    "organization": "agency",
    # "Notifying service", "Establishment making referral": the agency, by another name.
    "service": "agency",
    "establishment": "agency",
    "why": "reason",
    "yrs": "years",
}

# A label may carry a hint in brackets ("Date of Birth (dd/mm/yyyy)"): ignore it.
_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NON_WORD = re.compile(r"[^a-z0-9]+")
# A label rarely runs past this many words; longer text is a sentence, not a label.
MAX_LABEL_WORDS = 12
# Sections in which a vague label ("Name", "Address") means the person or the form itself.
SECTIONS_ABOUT_THE_PERSON = frozenset({"person", "form"})
# A synonym this long is specific enough to be recognised inside a longer label.
LONG_SYNONYM_WORDS = 4
# Lowest score at which a label is taken to name a field.
MIN_SCORE = 0.8


def _stem(word: str) -> str:
    # "What Level 2 cannot deliver" asks what "cannot be delivered at Level 2" asks.
    if len(word) > 5 and word.endswith("ed"):
        return word[:-2]
    # Plurals mean the same field: "Offences", "Forenames", "Documents".
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _join_initialisms(words: list[str]) -> list[str]:
    """ "d o b" -> "dob", "e mail" -> "email": letters spelled out with dots or spaces."""
    out: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        if len(run) >= 2:
            out.append("".join(run))
        else:
            out.extend(run)
        run = []
        if word == "mail" and out and out[-1] == "e":
            out[-1] = "email"
        elif word:
            out.append(word)
    return out


@lru_cache(maxsize=8192)
def label_words(label: str) -> frozenset[str]:
    """The canonical words of a label: what it means, whatever its spelling."""
    text = label.lower().replace("’", "'").replace("'s ", " ").replace("(s)", "s")
    text = _BRACKETED.sub(" ", text) if _BRACKETED.sub(" ", text).strip() else text
    words = _join_initialisms(_NON_WORD.sub(" ", text).split())
    canonical: list[str] = []
    for word in words:
        for part in WORD_EQUIVALENTS.get(word, word).split():
            if part not in STOP_WORDS:
                canonical.append(_stem(part))
    return frozenset(canonical)


@dataclass(frozen=True, slots=True)
class LabelMatch:
    field: str
    score: float
    synonym: str


def _score(label: frozenset[str], synonym: frozenset[str]) -> float:
    if not label or not synonym:
        return 0.0
    if label == synonym:
        return 1.0
    extra = len(label - synonym)
    if synonym <= label and extra <= 2 and len(synonym) >= 1:
        # "Date of Birth of subject": every word of the synonym, and a little more.
        return 0.92 - 0.04 * extra
    if label <= synonym and len(label) >= 2 and len(synonym - label) <= 1:
        # "Offender surname" against "surname of offender subject"
        return 0.85
    if synonym <= label and len(synonym) >= LONG_SYNONYM_WORDS:
        # A long question quoted whole inside a longer one ("Level 3 only: which parts of the
        # plan cannot be delivered at Level 2? Please explain") is still that question.
        return 0.84
    return 0.0


@lru_cache(maxsize=1)
def _synonym_index() -> tuple[tuple[str, str, frozenset[str]], ...]:
    return tuple(
        (field, phrase, label_words(phrase))
        for field, phrases in FIELD_LABELS.items()
        for phrase in phrases
    )


@lru_cache(maxsize=1)
def _generic_words() -> frozenset[frozenset[str]]:
    return frozenset(label_words(phrase) for phrase in GENERIC_LABELS)


def _best(words: frozenset[str], *, must: frozenset[str] = frozenset()) -> LabelMatch | None:
    """The best field for these words; with ``must``, only synonyms that use the label's
    own words and at least one word of its section."""
    best: LabelMatch | None = None
    best_key: tuple[float, int, float] = (0.0, 0, 0.0)
    for field, phrase, synonym in _synonym_index():
        if must and not (must <= synonym and synonym & (words - must)):
            continue
        score = _score(words, synonym)
        if score < MIN_SCORE:
            continue
        # Prefer the higher score; on a tie, the longer synonym, then the one whose words are
        # rarer: in "Patient family name", "family name" says more than "patient name".
        key = (score, len(synonym), _specificity(synonym))
        if best is None or key > best_key:
            best, best_key = LabelMatch(field, score, phrase), key
    return best


@lru_cache(maxsize=4096)
def _specificity(synonym: frozenset[str]) -> float:
    fields_using = _fields_per_word()
    return sum(1 / fields_using.get(word, 1) for word in synonym)


@lru_cache(maxsize=1)
def _fields_per_word() -> dict[str, int]:
    """How many fields' synonyms use each word: a word used by many says little."""
    fields: dict[str, set[str]] = {}
    for field, _phrase, synonym in _synonym_index():
        for word in synonym:
            fields.setdefault(word, set()).add(field)
    return {word: len(names) for word, names in fields.items()}


@lru_cache(maxsize=8192)
def match_label(label: str, section: str = "") -> LabelMatch | None:
    """The field a label names, read in its section when the label alone is too vague."""
    words = label_words(label)
    if not words or len(words) > MAX_LABEL_WORDS:
        return None
    if section and words in _generic_words():
        # "Telephone" under "RMO details" is not the referrer's telephone: a vague label
        # inside a known section means only what it means in that section.
        qualified = _best(words | section_words(section), must=words)
        if qualified is not None:
            return LabelMatch(qualified.field, qualified.score * 0.95, qualified.synonym)
        return _best(words) if section in SECTIONS_ABOUT_THE_PERSON else None
    if section:
        # "Date signed" under "Authorisation" is the manager's date: a synonym that uses the
        # label's words and its section's is the more specific reading.
        qualified = _best(words | section_words(section), must=words)
        if qualified is not None:
            return LabelMatch(qualified.field, qualified.score * 0.95, qualified.synonym)
    return _best(words)


def is_generic(label: str) -> bool:
    return label_words(label) in _generic_words()


def is_known_label(label: str) -> bool:
    """True when the text is a label we know, alone (a value may follow on the next line)."""
    words = label_words(label)
    return bool(words) and (words in _generic_words() or _exact(words))


@lru_cache(maxsize=8192)
def _exact(words: frozenset[str]) -> bool:
    return any(synonym == words for _f, _p, synonym in _synonym_index())


@lru_cache(maxsize=1)
def _section_index() -> tuple[tuple[str, frozenset[str]], ...]:
    return tuple(
        (section, label_words(phrase))
        for section, phrases in SECTION_HEADINGS.items()
        for phrase in phrases
    )


_SECTION_MARKER = re.compile(r"^\s*(?:section|part)\s+\w{1,3}\b\s*[:.\-–]", re.I)
_LETTERED = re.compile(r"^\s*[A-Z][.,)]\s+(?P<rest>\S.*)$")


def is_section_marker(text: str) -> bool:
    """ "Part 4: MAPPA category", "SECTION B - PERSONAL DETAILS", "C. Category": a heading.
    A lettered line counts only when what follows is a heading or a label we know, so that
    "J. Smith" stays a name."""
    if _SECTION_MARKER.match(text):
        return True
    lettered = _LETTERED.match(text)
    if lettered is None:
        return False
    rest = lettered["rest"]
    return match_heading(rest) is not None or is_known_label(rest)


@lru_cache(maxsize=4096)
def match_heading(text: str) -> str | None:
    """The section a heading opens ("Section 6 - Referrer details" -> "referrer"), if any."""
    words = label_words(re.sub(r"^\s*(section|part)\s*\w{1,3}\b[\s:.\-–]*", "", text, flags=re.I))
    words = frozenset(w for w in words if not w.isdigit())
    if not words or len(words) > 8:
        return None
    best: tuple[int, int] | None = None
    found = None
    for section, phrase in _section_index():
        # One extra word at most: "Referrer details (please print)" yes, "Completed by
        # DS Jane Smith" no. The closest heading wins: "RMO contact details" is the RMO's.
        if phrase <= words and len(words - phrase) <= 1:
            key = (len(words - phrase), -len(phrase))
            if best is None or key < best:
                best, found = key, section
    return found


def section_words(section: str) -> frozenset[str]:
    """The words a section lends to the vague labels inside it."""
    return label_words(section)
