"""Plain words for an agency: what a missing item is, what a form is called (pure).

Triage names a missing item by its field (``manager.date``) and gives the Co-ordinator a
reason ("No date of the manager's authorisation"); a letter to an agency asks for the thing
itself ("the date the manager authorised the form"). An item this table does not know is
asked for in the words of triage's reason, never by its field name.
"""

from __future__ import annotations

from collections.abc import Sequence

MISSING_WORDS = {
    "category": "the MAPPA category (one only: registered sex offender, restricted patient or"
    " category 3)",
    "person.surname": "the person's surname",
    "person.forenames": "the person's forename(s)",
    "person.dob": "the person's date of birth",
    "ids.agency_identifier": "at least one agency reference for the person (CHS/SCRO, PNC,"
    " CRO, ViSOR, SPS, social work or CHI number)",
    "offence.index": "the index offence",
    "disposal.type": "the disposal (the sentence or order made)",
    "disposal.release_date": "the earliest date of liberation (release date)",
    "disposal.supervision": "whether the person is under statutory supervision in the community",
    "risk.assessments": "the risk assessments completed (tool, result and date)",
    "risk.rosh": "the overall risk of serious harm (RoSH) rating",
    "level.proposed": "the level of management proposed",
    "level.rationale": "the reasons for the level of management proposed",
    "level.l3_statement": "what the risk management plan needs that cannot be delivered at"
    " Level 2 (required for a Level 3 referral)",
    "rp.order_type": "the restricted patient's order (CORO, hospital direction or transfer for"
    " treatment direction)",
    "rp.hospital": "the hospital where the restricted patient is detained",
    "rp.rmo": "the name of the responsible medical officer",
    "referrer.name": "the name of the person making the referral",
    "referrer.contact": "a telephone number or e-mail address for the person making the referral",
    "manager.name": "the name of the manager who authorised the form",
    "manager.date": "the date the manager authorised the form",
}

FORM_NAMES = {
    "notification": "MAPPA notification",
    "referral": "MAPPA referral",
    "rp_notification": "MAPPA restricted patient notification",
    "rp_referral": "MAPPA restricted patient referral",
}


def form_name(form_type: str) -> str:
    return FORM_NAMES.get(form_type, "MAPPA form")


def missing_item(name: str, reason: str) -> str:
    """One missing item in plain words."""
    if name == "documents.attached":
        _, _, listed = reason.partition(":")
        documents = listed.strip()
        if documents:
            return (
                f"the supporting documents the form lists but which were not attached: {documents}"
            )
        return "the supporting documents the form lists"
    if name == "category" and "not a MAPPA category" in reason:
        return "the MAPPA category: the one given is not a MAPPA category in Scotland"
    if name == "category" and "More than one" in reason:
        return "the MAPPA category: more than one is marked, and the form needs one"
    words = MISSING_WORDS.get(name)
    if words is not None:
        return words
    return _reason_as_request(reason) if reason else "an item the form needs (see the guidance)"


def missing_items(names: Sequence[str], reasons: Sequence[str] | None) -> tuple[str, ...]:
    """Each missing item in plain words, in the order triage found them."""
    given = list(reasons or [])
    given += [""] * (len(names) - len(given))
    return tuple(missing_item(name, reason) for name, reason in zip(names, given, strict=False))


def _reason_as_request(reason: str) -> str:
    """ "No index offence" -> "the index offence"; anything else as it is, lower-cased first."""
    text = reason.strip().rstrip(".")
    if text.lower().startswith("no "):
        text = "the " + text[3:]
    return text[:1].lower() + text[1:]
