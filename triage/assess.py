"""Everything triage says about one form: completeness, proposal, deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from triage.calendar import WorkingCalendar
from triage.completeness import Missing, find_missing
from triage.deadlines import Deadline, deadlines_for
from triage.facts import FormFacts
from triage.proposal import Outcome, Proposal, propose
from triage.settings import TriageSettings


@dataclass(frozen=True, slots=True)
class Assessment:
    complete: bool
    missing: tuple[Missing, ...]
    proposal: Proposal
    deadlines: tuple[Deadline, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "complete": self.complete,
            "missing": [m.name for m in self.missing],
            "proposal": self.proposal.to_json(),
            "deadlines": [d.to_json() for d in self.deadlines],
        }


def assess(
    facts: FormFacts, received: date, settings: TriageSettings, calendar: WorkingCalendar
) -> Assessment:
    missing = find_missing(facts, settings)
    return Assessment(
        complete=not missing,
        missing=tuple(missing),
        proposal=propose(facts, missing, settings),
        deadlines=tuple(deadlines_for(facts, received, calendar, settings)),
    )


def is_problem(assessment: Assessment) -> bool:
    """`check` exits 1 for an incomplete or rejected form."""
    return not assessment.complete or assessment.proposal.outcome is Outcome.REJECT
