"""Every "insufficient information" item of domain.md §5, and the proposal rules of §3 and §7.

Each case starts from one complete form and changes one thing, so that a failure names the
rule that broke.
"""

from __future__ import annotations

from typing import Any

import pytest

from triage.completeness import find_missing
from triage.facts import FormFacts
from triage.proposal import Outcome, propose
from triage.settings import TriageSettings

SETTINGS = TriageSettings()

COMPLETE: dict[str, Any] = {
    "category": "RSO",
    "person.surname": "DALGLEISH",
    "person.forenames": "Ewan",
    "person.dob": "1984-03-07",
    "person.postcode": "ML3 0AA",
    "ids.pnc": "21/123456A",
    "offence.index": "Sexual assault",
    "disposal.type": "community",
    "disposal.supervision": True,
    "risk.assessments": [{"tool": "RM2000", "result": "High"}],
    "risk.rosh": "high",
    "level.proposed": 2,
    "level.rationale": "Multi-agency plan needed.",
    "referrer.name": "DS Morven Lyle",
    "referrer.email": "morven.lyle@police.scot",
    "manager.name": "DI Callum Rennie",
    "manager.date": "2026-11-20",
    "documents.listed": ["Risk Assessment"],
}


def _facts(form_type: str = "referral", *, drop: tuple[str, ...] = (), **changes: Any) -> FormFacts:
    values = {k: v for k, v in COMPLETE.items() if k not in drop}
    values.update({k.replace("__", "."): v for k, v in changes.items()})
    return FormFacts(form_type, values)


def _missing(facts: FormFacts) -> list[str]:
    return [m.name for m in find_missing(facts, SETTINGS)]


def test_the_complete_form_lacks_nothing() -> None:
    assert _missing(_facts()) == []


@pytest.mark.parametrize(
    ("dropped", "missing"),
    [
        (("category",), "category"),
        (("person.surname",), "person.surname"),
        (("person.forenames",), "person.forenames"),
        (("person.dob",), "person.dob"),
        (("ids.pnc",), "ids.agency_identifier"),
        (("offence.index",), "offence.index"),
        (("disposal.type",), "disposal.type"),
        (("risk.assessments",), "risk.assessments"),
        (("risk.rosh",), "risk.rosh"),
        (("level.proposed",), "level.proposed"),
        (("level.rationale",), "level.rationale"),
        (("referrer.name",), "referrer.name"),
        (("referrer.email",), "referrer.contact"),
        (("manager.name",), "manager.name"),
        (("manager.date",), "manager.date"),
    ],
)
def test_each_required_item(dropped: tuple[str, ...], missing: str) -> None:
    assert _missing(_facts(drop=dropped)) == [missing]


def test_any_one_agency_identifier_will_do() -> None:
    for name in ("ids.chs", "ids.cro", "ids.visor", "ids.sps", "ids.sw_ref", "ids.chi"):
        assert _missing(_facts(drop=("ids.pnc",), **{name.replace(".", "__"): "X1"})) == []


def test_a_telephone_number_is_contact_enough() -> None:
    assert _missing(_facts(drop=("referrer.email",), referrer__phone="01632 960000")) == []


@pytest.mark.parametrize(
    ("category", "missing"),
    [("Category 4", ["category"]), (["RSO", "CAT3"], ["category"]), ("RP", [])],
)
def test_category_must_be_one_scottish_category(category: Any, missing: list[str]) -> None:
    assert _missing(_facts(category=category)) == missing


def test_custody_needs_a_release_date() -> None:
    assert _missing(_facts(disposal__type="custody")) == ["disposal.release_date"]
    dated = _facts(disposal__type="custody", disposal__release_date="2027-06-09")
    assert _missing(dated) == []


def test_category_3_must_say_whether_supervised() -> None:
    assert _missing(_facts(drop=("disposal.supervision",), category="CAT3")) == [
        "disposal.supervision"
    ]
    # For other categories the question does not arise.
    assert _missing(_facts(drop=("disposal.supervision",))) == []


def test_level_3_referral_needs_the_level_2_statement() -> None:
    assert _missing(_facts(level__proposed=3)) == ["level.l3_statement"]
    assert _missing(_facts("notification", level__proposed=3)) == []
    stated = _facts(level__proposed=3, level__l3_statement="Needs senior resources.")
    assert _missing(stated) == []


@pytest.mark.parametrize(
    ("dropped", "missing"),
    [
        ("rp.order_type", "rp.order_type"),
        ("rp.hospital", "rp.hospital"),
        ("rp.rmo", "rp.rmo"),
    ],
)
def test_restricted_patient_items(dropped: str, missing: str) -> None:
    rp = {"rp__order_type": "CORO", "rp__hospital": "The State Hospital", "rp__rmo": "Dr Ure"}
    rp.pop(dropped.replace(".", "__"))
    assert _missing(_facts("rp_referral", category="RP", **rp)) == [missing]
    # Not asked of an ordinary referral.
    assert _missing(_facts("referral", **rp)) == []


def test_documents_listed_but_not_attached() -> None:
    marked = _facts(documents__not_attached=["CJSW report"])
    assert _missing(marked) == ["documents.attached"]
    # In a message, a listed document must arrive as an attachment.
    listed = ["Risk Assessment", "Risk Management Plan"]
    sent = FormFacts(
        "referral",
        {**COMPLETE, "documents.listed": listed},
        in_message=True,
        attachments=("Referral.docx", "RMP Ewan D.pdf"),
    )
    found = find_missing(sent, SETTINGS)
    assert [m.name for m in found] == ["documents.attached"]
    assert "Risk Assessment" in found[0].reason


# --- proposals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form_type", "changes", "outcome", "level"),
    [
        ("notification", {"level__proposed": 1, "risk__rosh": "medium"}, "record", 1),
        # Level 1 proposed but high RoSH or terrorism: ask whether a referral should follow.
        ("notification", {"level__proposed": 1, "risk__rosh": "high"}, "request_info", 2),
        ("notification", {"level__proposed": 1, "risk__rosh": "low", "terrorism": True},
         "request_info", 2),
        # Level 2/3 notification: recorded, T2 opens for the referral.
        ("notification", {"level__proposed": 3}, "record", 3),
        ("referral", {}, "accept", 2),
        ("referral", {"level__proposed": 3, "level__l3_statement": "Senior resources."},
         "accept", 3),
        # Level 3 with low RoSH: the critical few; propose Level 2.
        ("referral", {"level__proposed": 3, "level__l3_statement": "x", "risk__rosh": "medium"},
         "accept", 2),
        ("referral", {"level__proposed": 1}, "record", 1),
        # Something missing: ask for it, keeping the proposed level.
        ("referral", {"level__proposed": 3}, "request_info", 3),
        # Category 3 criteria not met: reject.
        ("referral", {"category": "CAT3", "risk__rosh": "medium"}, "reject", None),
        ("referral", {"category": "CAT3", "disposal__supervision": False}, "reject", None),
        ("referral", {"category": "CAT3", "level__proposed": 1}, "reject", None),
        ("referral", {"category": "CAT3"}, "accept", 2),
        # Living outside Lanarkshire: redirect to that area's Co-ordinator.
        ("referral", {"person__postcode": "EH1 1AA"}, "redirect", 2),
        ("not_a_form", {}, "request_info", None),
    ],
)  # fmt: skip
def test_proposal(form_type: str, changes: dict[str, Any], outcome: str, level: int | None) -> None:
    facts = _facts(form_type, **changes)
    proposal = propose(facts, find_missing(facts, SETTINGS), SETTINGS)
    assert (proposal.outcome, proposal.level) == (Outcome(outcome), level)
    assert proposal.reasons and all(reason.strip() for reason in proposal.reasons)


def test_rejection_gives_every_failed_criterion() -> None:
    facts = _facts(category="CAT3", risk__rosh="low", disposal__supervision=False)
    reasons = propose(facts, find_missing(facts, SETTINGS), SETTINGS).reasons
    assert len(reasons) == 2
    assert any("RoSH is low" in r for r in reasons)
    assert any("supervision" in r for r in reasons)


def test_the_area_is_configurable() -> None:
    edinburgh = TriageSettings(area_postcode_districts=("EH1",))
    facts = _facts(person__postcode="EH1 1AA")
    assert propose(facts, [], edinburgh).outcome is Outcome.ACCEPT
