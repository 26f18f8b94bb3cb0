"""The proposed outcome and level, for the Co-ordinator's decision (domain.md §3 and §7).

The first rule of docs/triage.md that matches decides; each finding is one plain sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from triage.completeness import Missing
from triage.facts import FormFacts
from triage.settings import TriageSettings


class Outcome(StrEnum):
    RECORD = "record"
    ACCEPT = "accept"
    REJECT = "reject"
    REQUEST_INFO = "request_info"
    REDIRECT = "redirect"


@dataclass(frozen=True, slots=True)
class Proposal:
    outcome: Outcome
    level: int | None
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"outcome": str(self.outcome), "level": self.level, "reasons": list(self.reasons)}


HIGH_ROSH = ("high", "very_high")
LOW_ROSH = ("low", "medium")
_OUTWARD = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)\s")


def outward_code(postcode: str) -> str | None:
    found = _OUTWARD.match(postcode.upper() + " ")
    return found.group(1) if found else None


def _outside_area(facts: FormFacts, settings: TriageSettings) -> str | None:
    postcode = facts.text("person.postcode")
    district = outward_code(postcode) if postcode else None
    if district is None or district in settings.area_postcode_districts:
        return None
    return district


def _cat3_failures(facts: FormFacts) -> list[str]:
    """domain.md §2-3: CAT3 is for Levels 2-3 only, needs high or very high RoSH and
    statutory supervision in the community."""
    if facts.values.get("category") != "CAT3":
        return []
    failures = []
    if facts.level() == 1:
        failures.append(
            "Category 3 cases are managed at Level 2 or 3 only: Level 1 is a criteria error"
        )
    rosh = facts.values.get("risk.rosh")
    if rosh in LOW_ROSH:
        failures.append(
            f"Category 3 needs a high or very high risk of serious harm; RoSH is {rosh}"
        )
    if facts.flag("disposal.supervision") is False:
        failures.append(
            "Category 3 needs statutory supervision in the community; the form says none"
        )
    return failures


def _notification(facts: FormFacts) -> Proposal:
    level = facts.level()
    rosh = facts.values.get("risk.rosh")
    if level == 1:
        if rosh in HIGH_ROSH or facts.flag("terrorism"):
            why = "a terrorism connection" if facts.flag("terrorism") else f"RoSH {rosh}"
            return Proposal(
                Outcome.REQUEST_INFO,
                2,
                (
                    f"Level 1 proposed but {why} points higher: "
                    "ask whether a Level 2 referral should follow",
                ),
            )
        return Proposal(Outcome.RECORD, 1, ("Level 1 notification: record only",))
    return Proposal(
        Outcome.RECORD,
        level,
        (
            f"Notification proposes Level {level}: "
            "a stage 2 referral must follow within 5 working days (T2)",
        ),
    )


def _referral(facts: FormFacts) -> Proposal:
    level = facts.level()
    rosh = facts.values.get("risk.rosh")
    if level == 1:
        return Proposal(
            Outcome.RECORD, 1, ("Referral at Level 1: record only, no MAPPA meeting needed",)
        )
    if level == 3 and rosh in LOW_ROSH:
        return Proposal(
            Outcome.ACCEPT,
            2,
            (f"Level 3 is for the critical few; RoSH is {rosh}: consider acceptance at Level 2",),
        )
    deadline = (
        "initial meeting within 20 working days (T4)"
        if level == 2
        else ("urgent: initial meeting within 5 working days (T5)")
    )
    return Proposal(Outcome.ACCEPT, level, (f"Complete Level {level} referral; {deadline}",))


def propose(facts: FormFacts, missing: list[Missing], settings: TriageSettings) -> Proposal:
    level = facts.level()
    if facts.form_type not in ("notification", "referral", "rp_notification", "rp_referral"):
        return Proposal(
            Outcome.REQUEST_INFO, None, ("Not recognised as a MAPPA notification or referral form",)
        )
    district = _outside_area(facts, settings)
    if district is not None:
        return Proposal(
            Outcome.REDIRECT,
            level,
            (
                f"Postcode district {district} is outside the area: "
                "send to that area's MAPPA Co-ordinator",
            ),
        )
    failures = _cat3_failures(facts)
    if failures:
        return Proposal(Outcome.REJECT, None, tuple(failures))
    if missing:
        return Proposal(Outcome.REQUEST_INFO, level, tuple(m.reason for m in missing))
    return _notification(facts) if facts.is_notification else _referral(facts)
