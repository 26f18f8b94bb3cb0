"""One stored message -> a case, or a quarantine entry with its reason.

Used by the intake worker for new mail, and by ``quarantine release|reprocess`` for held mail.
Every outcome is written in one transaction that first re-reads the message's state under a
row lock: if another process finished it meanwhile, nothing is written, so a message never
becomes two cases, however many processes try.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from email.message import Message
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from intake.automatic import bounce
from intake.casework import Casework, thread_case
from intake.dsn import permanent_failures
from intake.envelope import Headers, read_headers, strip_our_headers
from intake.screening import ScreeningPolicy, screen
from parsers.errors import ParseError
from records import cases as case_records
from records import ledger
from records.database import Database
from records.sealing import Sealer
from records.tables import Case, InboundMessage, MessageState, QuarantineState

if TYPE_CHECKING:
    from responders.receipts import AutoReplies

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Written in the transaction that holds a message (a reply queued, a bounce noted).
AfterHold = Callable[[Session, InboundMessage, datetime], None]


class MessageProcessor:
    def __init__(
        self,
        db: Database,
        casework: Casework,
        policy: ScreeningPolicy,
        *,
        clock: Clock,
        replies: AutoReplies | None = None,
    ) -> None:
        self.db = db
        self.casework = casework
        self.policy = policy
        self.clock = clock
        self.replies = replies  # None: nothing is queued (parsing and intake tests)

    @property
    def sealer(self) -> Sealer:
        return self.casework.sealer

    def take(
        self, inbound_id: int, raw: bytes, *, expected: MessageState, vouched: bool
    ) -> list[str] | None:
        """Screen, read and record one stored message. Returns the case references it went
        to ([] if held in quarantine), or None if another process had already done it."""
        try:
            return self._take(inbound_id, raw, expected, vouched)
        except DBAPIError:
            raise  # the database, not the message: the pass stops and is retried
        except Exception as err:  # one bad message never stops the rest
            log.error(
                "message could not be processed: %s",
                type(err).__name__,
                extra={"inbound": inbound_id},
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            reason = f"internal error while processing ({type(err).__name__})"
            return [] if self.hold(inbound_id, "failed", reason, expected) else None

    def _take(
        self, inbound_id: int, raw: bytes, expected: MessageState, vouched: bool
    ) -> list[str] | None:
        stripped = strip_our_headers(raw)
        headers = read_headers(stripped)
        try:
            message = self.casework.split(stripped)
        except ParseError as err:  # more MIME parts than the limit allows
            return [] if self.hold(inbound_id, err.kind, str(err), expected) else None
        verdict = screen(len(raw), headers, message.message, self.policy, vouched=vouched)
        if not verdict.taken:
            assert verdict.kind is not None
            also = self._after_hold(verdict.kind, headers, message.message)
            held = self.hold(inbound_id, verdict.kind, verdict.reason, expected, also=also)
            return [] if held else None
        case_id = self._thread(headers)
        reading = self.casework.read(message, answer=case_id is not None, now=self.clock())
        now = self.clock()
        with self.db.session() as session:
            row = _locked(session, inbound_id)
            if not _still(session, row, expected) or case_records.cases_of_message(
                session, inbound_id
            ):
                return None  # someone else finished it first
            case = session.get(Case, case_id) if case_id is not None else None
            result = self.casework.record(session, row, reading, case, now)
            if result.quarantine_kind is not None:
                ledger.quarantine(session, row, result.quarantine_kind, result.reason, now)
                log.info(
                    "message quarantined",
                    extra={"inbound": inbound_id, "kind": result.quarantine_kind},
                )
                return []
            ledger.mark_processed(session, row)
            if self.replies is not None:
                self.replies.acknowledge(session, row, list(result.opened), now)
            if expected is MessageState.QUARANTINED:
                state = QuarantineState.RELEASED if vouched else QuarantineState.REPROCESSED
                ledger.resolve_quarantine(session, row, state, now)
        for ref in result.refs:
            log.info("message made into case", extra={"inbound": inbound_id, "case": ref})
        if result.opened and self.replies is not None:
            self.replies.wake()
        return list(result.refs)

    def _after_hold(self, kind: str, headers: Headers, message: Message) -> AfterHold | None:
        """What else a held message means: a secure-e-mail reply to an allow-listed sender
        that failed the checks; for a bounce of ours, the address flagged."""
        replies = self.replies
        if replies is None:
            return None
        if kind == "untrusted_sender":
            return lambda session, row, now: replies.ask_for_secure_email(session, row, now)
        if kind == "automatic" and bounce(headers):
            failures = permanent_failures(message)
            return lambda session, _row, now: replies.note_bounces(session, failures, now)
        return None

    def _thread(self, headers: Headers) -> int | None:
        with self.db.session() as session:
            case = thread_case(session, headers)
            return case.id if case is not None else None

    def hold(
        self,
        inbound_id: int,
        kind: str,
        reason: str,
        expected: MessageState,
        *,
        also: AfterHold | None = None,
    ) -> bool:
        with self.db.session() as session:
            row = _locked(session, inbound_id)
            if not _still(session, row, expected):
                return False
            now = self.clock()
            ledger.quarantine(session, row, kind, reason, now)
            if also is not None:
                also(session, row, now)
        log.info("message quarantined", extra={"inbound": inbound_id, "kind": kind})
        if also is not None and self.replies is not None:
            self.replies.wake()
        return True


def _locked(session: Session, inbound_id: int) -> InboundMessage:
    row = session.get(InboundMessage, inbound_id, with_for_update=True)
    assert row is not None
    return row


def _still(session: Session, row: InboundMessage, expected: MessageState) -> bool:
    """Nobody finished the message meanwhile: it is in the state we took it in and, if it was
    held, still held (not released, reprocessed or deleted by someone else)."""
    if row.state is not expected:
        return False
    return expected is not MessageState.QUARANTINED or ledger.is_held(session, row)
