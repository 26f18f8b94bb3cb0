"""What the console's pages work with, built once at start (app/console.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from console.auth import Authenticator, Clock
from console.settings import ConsoleSettings
from intake.processing import MessageProcessor
from records.database import Database
from records.sealing import Sealer
from responders.context import ContextBuilder
from responders.decisions import DecisionPolicy
from responders.templates import Templates
from triage.calendar import WorkingCalendar
from triage.slipping import deadline_flag

# Re-runs triage on a case after a correction: intake.casework.Casework.assess.
Reassess = Callable[..., None]


@dataclass(frozen=True, slots=True)
class ConsoleServices:
    db: Database
    settings: ConsoleSettings
    clock: Clock  # aware, in the Co-ordinator's zone
    auth: Authenticator
    policy: DecisionPolicy
    reply_templates: Templates
    reply_contexts: ContextBuilder
    sealer: Sealer
    reassess: Reassess  # (session, case, now)
    processor: MessageProcessor  # takes a held message again (the quarantine page)

    @property
    def calendar(self) -> WorkingCalendar:
        return self.policy.calendar

    def today(self) -> date:
        return self.clock().date()

    def flag(self, timescale: str, due: date, status: str) -> str | None:
        """ "missed", "near" or None, as `status` and `cases` flag deadlines."""
        return deadline_flag(
            timescale, due, status, self.today(), self.calendar, self.settings.near_working_days
        )

    def near_limit(self) -> date:
        """The last day a deadline is still "near" (within the near working days)."""
        # A weekend or holiday after the last near working day is near too: the limit is the
        # day before the next working day.
        beyond = self.calendar.add_working_days(self.today(), self.settings.near_working_days + 1)
        return beyond - timedelta(days=1)
