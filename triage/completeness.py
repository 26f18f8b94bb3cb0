"""What a form lacks: the "insufficient information" items of domain.md §5, in the order of
docs/triage.md (rules 1-22). Each missing item carries a plain reason for the Co-ordinator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from triage.documents import unattached
from triage.facts import FormFacts
from triage.settings import TriageSettings

AGENCY_IDENTIFIERS = (
    "ids.chs",
    "ids.pnc",
    "ids.cro",
    "ids.visor",
    "ids.sps",
    "ids.sw_ref",
    "ids.chi",
)


@dataclass(frozen=True, slots=True)
class Missing:
    name: str
    reason: str


Rule = Callable[[FormFacts, TriageSettings], Iterator[Missing]]


def _category(facts: FormFacts, settings: TriageSettings) -> Iterator[Missing]:
    value = facts.values.get("category")
    if value in (None, "", []):
        yield Missing("category", "No MAPPA category is given")
    elif isinstance(value, list):
        yield Missing("category", "More than one MAPPA category is marked: one only")
    elif value not in settings.categories:
        yield Missing(
            "category",
            f"Category '{value}' is not a MAPPA category in Scotland (a cross-border case?)",
        )


def _required(name: str, reason: str) -> Rule:
    def rule(facts: FormFacts, _settings: TriageSettings) -> Iterator[Missing]:
        if not facts.has(name):
            yield Missing(name, reason)

    return rule


def _identifier(facts: FormFacts, _settings: TriageSettings) -> Iterator[Missing]:
    if not any(facts.has(name) for name in AGENCY_IDENTIFIERS):
        yield Missing(
            "ids.agency_identifier",
            "No agency identifier (CHS/SCRO, PNC, CRO, ViSOR, SPS, social work or CHI number)",
        )


def _release_date(facts: FormFacts, _settings: TriageSettings) -> Iterator[Missing]:
    if facts.values.get("disposal.type") == "custody" and not facts.has("disposal.release_date"):
        yield Missing("disposal.release_date", "A custodial sentence but no release date (EDL)")


def _supervision(facts: FormFacts, _settings: TriageSettings) -> Iterator[Missing]:
    if facts.values.get("category") == "CAT3" and facts.flag("disposal.supervision") is None:
        yield Missing(
            "disposal.supervision",
            "Category 3 but the form does not say whether the person is under statutory "
            "supervision in the community",
        )


def _l3_statement(facts: FormFacts, _settings: TriageSettings) -> Iterator[Missing]:
    if facts.is_referral and facts.level() == 3 and not facts.has("level.l3_statement"):
        yield Missing(
            "level.l3_statement",
            "Level 3 referral without the statement of what Level 2 cannot deliver",
        )


def _restricted_patient(name: str, reason: str) -> Rule:
    required = _required(name, reason)

    def rule(facts: FormFacts, settings: TriageSettings) -> Iterator[Missing]:
        if facts.is_restricted_patient:
            yield from required(facts, settings)

    return rule


def _contact(facts: FormFacts, _settings: TriageSettings) -> Iterator[Missing]:
    if not (facts.has("referrer.phone") or facts.has("referrer.email")):
        yield Missing("referrer.contact", "No telephone number or e-mail address for the referrer")


def _documents(facts: FormFacts, _settings: TriageSettings) -> Iterator[Missing]:
    listed = facts.texts("documents.listed")
    marked = facts.texts("documents.not_attached")
    absent = list(marked)
    if facts.in_message:
        absent += [d for d in unattached(listed, facts.attachments) if d not in absent]
    if absent:
        yield Missing(
            "documents.attached",
            "Supporting documents listed but not attached: " + ", ".join(absent),
        )


RULES: tuple[Rule, ...] = (
    _category,
    _required("person.surname", "No surname"),
    _required("person.forenames", "No forename"),
    _required("person.dob", "No date of birth"),
    _identifier,
    _required("offence.index", "No index offence"),
    _required("disposal.type", "No disposal (sentence or order)"),
    _release_date,
    _supervision,
    _required("risk.assessments", "No risk assessment (tool, result and date)"),
    _required("risk.rosh", "No overall risk of serious harm (RoSH) rating"),
    _required("level.proposed", "No proposed level of management"),
    _required("level.rationale", "No rationale for the proposed level"),
    _l3_statement,
    _restricted_patient("rp.order_type", "No restricted-patient order type (CORO, HD or TTD)"),
    _restricted_patient("rp.hospital", "No hospital named for the restricted patient"),
    _restricted_patient("rp.rmo", "No responsible medical officer (RMO) named"),
    _required("referrer.name", "No name for the referrer"),
    _contact,
    _required("manager.name", "No manager's authorisation (name)"),
    _required("manager.date", "No date of the manager's authorisation"),
    _documents,
)


def find_missing(facts: FormFacts, settings: TriageSettings) -> list[Missing]:
    found: list[Missing] = []
    for rule in RULES:
        for missing in rule(facts, settings):
            if all(m.name != missing.name for m in found):
                found.append(missing)
    return found
