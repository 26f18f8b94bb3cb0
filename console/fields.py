"""Fields as the Co-ordinator reads and corrects them: a label for each field name of
contract.md, a value shown as words, and a typed correction normalised exactly as the
parsers normalise what a form says (parsers/fieldspecs.py), so a correction and a parsed
value look alike to triage."""

from __future__ import annotations

from datetime import date
from typing import Any

from console.errors import BadForm
from parsers.fieldspecs import LIST_FIELDS as PARSED_LISTS
from parsers.fieldspecs import SPECS, Context

# Below this a value is shown as weak: OCR's values (at most 0.8) and any value a check
# doubted (halved) fall under it; a typed or boxed value (0.9 and more) does not.
WEAK_CONFIDENCE = 0.85

LABELS = {
    "form.date": "Date of the form",
    "form.agency": "Agency (kind)",
    "form.agency_name": "Agency",
    "person.surname": "Surname",
    "person.forenames": "Forename(s)",
    "person.aliases": "Aliases",
    "person.dob": "Date of birth",
    "person.gender": "Gender",
    "person.address": "Address",
    "person.postcode": "Postcode",
    "ids.chs": "CHS / SCRO number",
    "ids.pnc": "PNC number",
    "ids.cro": "CRO number",
    "ids.visor": "ViSOR reference",
    "ids.sps": "SPS number",
    "ids.sw_ref": "Social work reference",
    "ids.chi": "CHI number",
    "category": "MAPPA category",
    "terrorism": "Terrorism",
    "offence.index": "Index offence",
    "offence.conviction_date": "Date of conviction",
    "offence.court": "Court",
    "disposal.type": "Disposal",
    "disposal.date": "Date of disposal",
    "disposal.release_date": "Earliest date of liberation",
    "disposal.length": "Length of sentence or order",
    "disposal.supervision": "Statutory supervision",
    "sonr.start": "Notification requirements from",
    "sonr.end": "Notification requirements to",
    "sonr.period": "Notification period",
    "orders": "Orders",
    "risk.assessments": "Risk assessments",
    "risk.rosh": "Risk of serious harm",
    "level.proposed": "Level proposed",
    "level.rationale": "Rationale for the level",
    "level.l3_statement": "Level 3 statement",
    "lead_agency": "Lead agency",
    "referrer.name": "Referrer",
    "referrer.role": "Referrer's role",
    "referrer.agency": "Referrer's agency",
    "referrer.phone": "Referrer's telephone",
    "referrer.email": "Referrer's e-mail",
    "manager.name": "Authorising manager",
    "manager.date": "Date authorised",
    "documents.listed": "Documents listed",
    "documents.not_attached": "Documents marked not attached",
    "flags.child_protection": "Child protection concerns",
    "flags.adult_protection": "Adult protection concerns",
    "flags.victims": "Victim issues",
    "rp.order_type": "Restricted patient order",
    "rp.hospital": "Hospital",
    "rp.rmo": "Responsible medical officer",
    "rp.mho": "Mental health officer",
}
# Fields kept as lists of plain entries (the parsers' lists, less the structured ones, and the
# documents a form marks as not attached): a correction gives one entry per line.
LIST_FIELDS = (PARSED_LISTS - {"risk.assessments", "orders"}) | {"documents.not_attached"}


def label(name: str) -> str:
    return LABELS.get(name, name)


def shown(value: Any) -> str:
    """A field's value in words: lists one entry per line, yes/no for booleans."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "\n".join(shown(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, ""))
    return "" if value is None else str(value)


def as_typed(value: Any) -> str:
    """A value as the correction box shows it to start from (what ``normalised`` reads)."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "\n".join(_assessment_line(item) for item in value)
    return shown(value)


def _assessment_line(item: dict[str, Any]) -> str:
    if "tool" in item:
        when = f" ({item['date']})" if item.get("date") else ""
        return f"{item.get('tool', '')}: {item.get('result', '')}{when}"
    return shown(item)


def normalised(name: str, text: str, today: date, dob: str | None) -> Any:
    """The correction typed for field ``name`` as the value the case keeps ("" for none).
    Raises BadForm saying why the words cannot be that field's value."""
    text = text.strip()
    if not text:
        return ""
    if name in LIST_FIELDS:
        return [line.strip() for line in text.splitlines() if line.strip()]
    if name == "risk.assessments":
        return [_assessment(line) for line in text.splitlines() if line.strip()]
    spec = SPECS.get(name)
    if spec is None:
        raise BadForm(f"{label(name)}: this field cannot be corrected here")
    found = spec(" ".join(text.split()) if name != "orders" else text, Context(today.year, dob))
    if found is None:
        raise BadForm(f"{label(name)}: {text[:60]!r} does not read as a value of this field")
    if not found.valid:
        raise BadForm(f"{label(name)}: {found.note or 'not a valid value'}")
    return found.value


def _assessment(line: str) -> dict[str, str]:
    """ "RM2000: High (2026-03-04)" -> {"tool", "result", "date"}."""
    tool, _, rest = line.partition(":")
    result, _, when = rest.strip().partition("(")
    item = {"tool": tool.strip(), "result": result.strip()}
    if when.strip(" )"):
        item["date"] = when.strip(" )")
    return item
