"""A message that passed screening -> forms on cases, with completeness, deadlines and a
proposal for the Co-ordinator (parsers, triage, records).

Reading (slow: PDF layout, OCR) happens outside any transaction; everything written about the
message then goes in one transaction with the ledger's change of state, so a message is
either wholly made into its case(s) or not at all.

* A message that **answers** one of ours (In-Reply-To / References naming one of our
  Message-IDs, or an earlier message of the case; else the case reference in the subject)
  lands on that case: its fields and documents are added and triage runs again. It never
  opens a new case.
* Otherwise each form found opens a case; several forms in one message about the same person
  (the same PNC, CHI, or surname and date of birth) share one.
* A Word document with macros, an encrypted document or one over the limits holds the whole
  message in quarantine; so does a message with no form in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from intake.envelope import Headers
from parsers.api import ReadOptions, parse_split
from parsers.eml import SplitMessage, split_message
from parsers.errors import ParseError
from parsers.limits import Limits, time_limit
from parsers.model import FormType, ParsedForm
from records import cases as case_records
from records import ledger, outbox
from records.events import record_event
from records.sealing import Sealer
from records.tables import Case, CaseState, EventKind, InboundMessage
from triage.assess import assess
from triage.calendar import WorkingCalendar
from triage.facts import FormFacts
from triage.settings import TriageSettings

# Document failures that hold the whole message: they are dangerous (macros) or mean the
# agency must send the form again in a readable way (encrypted, over the limits).
HOLDING_FAILURES = ("macro", "encrypted", "oversized")
WARM_UP_MESSAGE = (
    b"From: warm-up@example.invalid\r\nSubject: MAPPA notification\r\n\r\n"
    b"Surname: WARMUP\r\nForename(s): Test\r\nDate of birth: 01/01/1980\r\n"
)


@dataclass(frozen=True, slots=True)
class CaseworkSettings:
    limits: Limits
    triage: TriageSettings
    calendar: WorkingCalendar
    zone: ZoneInfo  # the Co-ordinator's: receipt dates are counted in it


@dataclass(slots=True)
class Reading:
    forms: list[ParsedForm]
    failures: list[ParsedForm]
    attachments: list[tuple[str, bytes]]

    def holding_failure(self) -> ParsedForm | None:
        return next((f for f in self.failures if f.failure in HOLDING_FAILURES), None)


@dataclass(frozen=True, slots=True)
class Result:
    """What became of a message: the cases it touched, or the quarantine kind and reason."""

    refs: tuple[str, ...] = ()
    opened: tuple[Case, ...] = ()  # the cases this message opened (each is acknowledged)
    quarantine_kind: str | None = None
    reason: str = ""


def thread_case(session: Session, headers: Headers) -> Case | None:
    """The case this message answers, if it answers one."""
    found = case_records.find_by_message_ids(session, headers.thread_ids)
    if found is not None:
        return found
    ref = headers.case_ref()
    return case_records.find_by_ref(session, ref) if ref else None


class Casework:
    def __init__(self, settings: CaseworkSettings, sealer: Sealer) -> None:
        self.settings = settings
        self.sealer = sealer

    def warm_up(self, now: datetime) -> None:
        """Load the parsers' lazy parts (spaCy, the label tables) before the first message, so
        the first message costs what the others do and a stop during start-up finds no
        message half-read."""
        self.read(self.split(WARM_UP_MESSAGE), answer=False, now=now)

    def split(self, raw: bytes) -> SplitMessage:
        """The message taken apart once (raises ParseError: too many parts)."""
        return split_message(raw, self.settings.limits)

    def read(self, message: SplitMessage, *, answer: bool, now: datetime) -> Reading:
        """The forms of the message; slow (PDF layout, OCR), so never inside a transaction."""
        limits = self.settings.limits
        options = ReadOptions(reference_year=now.year, limits=limits, answer=answer)
        try:
            with time_limit(limits.max_seconds, "message"):
                results = parse_split(message, "message", options)
        except ParseError as err:
            failure = ParsedForm("message", FormType.UNKNOWN, warnings=[str(err)], failure=err.kind)
            return Reading([], [failure], [])
        attachments = [(p.name, p.data) for p in message.parts if p.label.startswith("attachment:")]
        return Reading(
            forms=[r for r in results if r.failure is None],
            failures=[r for r in results if r.failure is not None],
            attachments=attachments,
        )

    def record(
        self,
        session: Session,
        message: InboundMessage,
        reading: Reading,
        case: Case | None,
        now: datetime,
    ) -> Result:
        """Write what the reading found, in the caller's transaction."""
        holding = reading.holding_failure()
        if holding is not None:
            return Result(quarantine_kind=holding.failure, reason=_reason(holding))
        if case is None and not reading.forms:
            failure = reading.failures[0] if reading.failures else None
            reason = _reason(failure) if failure else "no MAPPA form found in this message"
            return Result(quarantine_kind="no_form", reason=reason)
        self._store_attachments(session, message, reading)
        if case is not None:
            self._answer(session, message, reading, case, now)
            return Result(refs=(case.ref,))
        opened = []
        received = ledger.receipt_time(message, now)
        for group in _by_person(reading.forms):
            case = case_records.open_case(session, str(group[0].form_type), received, now)
            for form in group:
                self._add(session, case, message, form, now)
            self.assess(session, case, now)
            opened.append(case)
        return Result(refs=tuple(c.ref for c in opened), opened=tuple(opened))

    def _store_attachments(
        self, session: Session, message: InboundMessage, reading: Reading
    ) -> None:
        assert message.id is not None
        for name, data in reading.attachments:
            ledger.store_blob(session, message.id, "attachment", name, data, self.sealer)

    def _add(
        self, session: Session, case: Case, message: InboundMessage, form: ParsedForm, now: datetime
    ) -> None:
        assert message.id is not None
        case_records.add_form(session, case, message.id, form, now)

    def _answer(
        self,
        session: Session,
        message: InboundMessage,
        reading: Reading,
        case: Case,
        now: datetime,
    ) -> None:
        forms = reading.forms or [_documents_only(reading)]
        for form in forms:
            self._add(session, case, message, form, now)
        if case.state is CaseState.AWAITING_INFORMATION:
            # The answer came: back to the Co-ordinator, and no more chases.
            case.state = CaseState.AWAITING_DECISION
            session.add(case)
            assert case.id is not None
            outbox.cancel_chases(session, case.id, "the answer arrived", now)
        record_event(
            session,
            EventKind.INFORMATION_RECEIVED,
            now,
            case_id=case.id,
            inbound_id=message.id,
            fields=sum(len(f.fields) for f in forms),
            documents=len(reading.attachments),
        )
        self.assess(session, case, now)

    def assess(self, session: Session, case: Case, now: datetime) -> None:
        """Run triage on everything the case holds now, and keep the result."""
        assert case.id is not None
        facts = FormFacts(
            form_type=case.form_type,
            values=case_records.merged_fields(session, case.id),
            in_message=True,
            attachments=case_records.case_attachments(session, case.id),
        )
        received = self._local_date(case.received_at)
        result = assess(facts, received, self.settings.triage, self.settings.calendar)
        case_records.save_assessment(session, case, result, now)

    def _local_date(self, when: datetime) -> date:
        return when.astimezone(self.settings.zone).date()


def _reason(failure: ParsedForm) -> str:
    return failure.warnings[-1] if failure.warnings else str(failure.failure)


def _documents_only(reading: Reading) -> ParsedForm:
    """An answer with no named field still brings its documents to the case."""
    form = ParsedForm("message#answer", FormType.UNKNOWN)
    form.attachments = tuple(name for name, _ in reading.attachments)
    form.in_message = True
    return form


def _person_key(form: ParsedForm, index: int) -> tuple[str, ...]:
    for name in ("ids.pnc", "ids.chi"):
        value = form.value(name)
        if isinstance(value, str) and value:
            return (name, value.upper())
    surname, dob = form.value("person.surname"), form.value("person.dob")
    if isinstance(surname, str) and isinstance(dob, str) and surname and dob:
        return ("person", surname.upper(), dob)
    return ("form", str(index))


def _by_person(forms: Sequence[ParsedForm]) -> list[list[ParsedForm]]:
    groups: dict[tuple[str, ...], list[ParsedForm]] = {}
    for index, form in enumerate(forms):
        groups.setdefault(_person_key(form, index), []).append(form)
    return list(groups.values())
