"""The outbox sender: takes due rows one at a time, composes, sends, files a copy.

Every daemon runs one; they share the outbox by taking rows (``outbox.take_due``: ``FOR
UPDATE SKIP LOCKED``, then marked as this sender's for a while). Per row, in this order (each
step its own transaction, so a stop anywhere is safe):

1. taken; still wanted? (a chase whose case was answered, decided or closed, or whose address
   bounced, is cancelled); recipient allow-listed? (else refused, never sent); admitted to
   the per-recipient hourly rate? (else it waits, ``not_before``);
2. composed once, and the bytes kept sealed on the row: a resend sends the same bytes;
3. MAIL FROM, RCPT TO, then ``begin_data`` notes the DATA exchange (if the row is still this
   sender's), then DATA;
4. ``sent``; then ``filing`` is noted and a copy goes to the mailbox's Sent folder, and the
   row is ``filed``. Only a row found in ``filing`` (a stop came after the APPEND began) has the
   folder searched for its Message-ID first: a search on every copy would read a Sent folder
   that grows for years.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import jinja2
from sqlmodel import Session

from intake.errors import MailboxError
from intake.mailbox import Mailbox
from records import leases, outbox
from records.database import Database
from records.sealing import Sealer
from records.tables import Case, OutboundMessage, OutboxState
from responders.chasing import why_stop
from responders.compose import WIRE, RecipientRefused, ReplyKind, check_recipient
from responders.replies import ReplyComposer
from responders.settings import ReplySettings
from responders.transport import SendDeferred, SendRefused, Transport

log = logging.getLogger(__name__)

# After a passing failure: 1, 2, 4 ... minutes, at most an hour.
RETRY_FIRST = timedelta(minutes=1)
RETRY_LAST = timedelta(hours=1)
CHASE_KINDS = (ReplyKind.CHASE_FIRST, ReplyKind.CHASE_SECOND)

Clock = Callable[[], datetime]


@dataclass(slots=True)
class SendReport:
    sent: int = 0
    filed: int = 0
    waiting: int = 0  # held back by the rate, or to be retried
    ended: int = 0  # cancelled, refused or failed for good
    unavailable: str = ""  # why sending stopped early (the server is away)


def retry_after(attempts: int) -> timedelta:
    delay: timedelta = RETRY_FIRST * (2 ** min(attempts, 10))
    return min(delay, RETRY_LAST)


class OutboxSender:
    def __init__(
        self,
        db: Database,
        composer: ReplyComposer,
        transport: Transport,
        settings: ReplySettings,
        sealer: Sealer,
        *,
        clock: Clock,
        sent_copies: Mailbox | None = None,
        sent_folder: str = "",
        stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.db = db
        self.composer = composer
        self.transport = transport
        self.settings = settings
        self.sealer = sealer
        self.clock = clock
        self.sent_copies = sent_copies if sent_folder else None
        self.sent_folder = sent_folder
        self.stop = stop
        self.holder = leases.process_holder()

    def release(self) -> None:
        """Hand back the rows this sender was working on (the daemon stops)."""
        with self.db.session() as session:
            outbox.let_go(session, self.holder)

    def run_pass(self) -> SendReport:
        report = SendReport()
        try:
            self._send_due(report)
            self._file_copies(report)
        finally:
            self.transport.close()
        return report

    # -- sending ---------------------------------------------------------------------------

    def _send_due(self, report: SendReport) -> None:
        done: set[int] = set()
        while not self.stop():
            try:
                row_id = self._send_one(done, report)
            except SendDeferred as err:
                report.unavailable = str(err)
                log.warning("sending stopped: %s", err)
                return
            if row_id is None:
                return

    def _send_one(self, done: set[int], report: SendReport) -> int | None:
        """Take the next due row and send it; its id, or None when nothing is left to take."""
        now = self.clock()
        with self.db.session() as session:
            row = outbox.take_due(
                session, self.holder, now, leases.wall_clock(), leases.holder_is_dead, done
            )
            if row is None:
                return None
            assert row.id is not None
            row_id = row.id
            done.add(row_id)
            if not self._may_send(session, row, now, report):
                return row_id
            raw = self._composed(session, row, now, report)
            if raw is None:
                return row_id
            key, recipient, kind = row.key, row.recipient, row.kind
        try:
            sent = self.transport.send(
                key,
                self.settings.envelope_from,
                recipient,
                raw,
                before_data=lambda: self._begin_data(row_id),
            )
        except SendRefused as err:
            with self.db.session() as session:
                outbox.finish(session, row_id, OutboxState.FAILED, str(err), self.clock())
            report.ended += 1
            log.error("reply refused by the server", extra={"outbox": row_id, "why": str(err)})
            return row_id
        except SendDeferred as err:
            with self.db.session() as session:
                attempts = outbox.locked(session, row_id).attempts
                until = self.clock() + retry_after(attempts)
                outbox.defer(session, row_id, until, str(err), failed=True)
            report.waiting += 1
            raise
        if sent:
            with self.db.session() as session:
                outbox.mark_sent(session, row_id, self.clock())
            report.sent += 1
            log.info("reply sent", extra={"outbox": row_id, "kind": kind})
        return row_id

    def _begin_data(self, row_id: int) -> bool:
        with self.db.session() as session:
            return outbox.begin_data(session, row_id, self.holder)

    def _may_send(
        self, session: Session, row: OutboundMessage, now: datetime, report: SendReport
    ) -> bool:
        assert row.id is not None
        unwanted = self._unwanted(session, row)
        if unwanted:
            outbox.finish(session, row.id, OutboxState.CANCELLED, unwanted, now)
            report.ended += 1
            return False
        try:
            check_recipient(row.recipient, self.settings.sender)
        except RecipientRefused as err:
            outbox.finish(session, row.id, OutboxState.REFUSED, str(err), now)
            report.ended += 1
            log.error("reply refused: recipient not allow-listed", extra={"outbox": row.id})
            return False
        when = outbox.admit(session, row, now, self.settings.per_recipient_per_hour)
        if when is not None:
            outbox.defer(session, row.id, when, "per-recipient hourly rate reached", failed=False)
            report.waiting += 1
            return False
        return True

    def _unwanted(self, session: Session, row: OutboundMessage) -> str | None:
        """Why a reminder queued earlier should no longer go (it waited for the rate, or
        the answer came between queueing and sending)."""
        if ReplyKind(row.kind) not in CHASE_KINDS or row.case_id is None:
            return None
        case = session.get(Case, row.case_id)
        assert case is not None
        return why_stop(session, case, row.recipient)

    def _composed(
        self, session: Session, row: OutboundMessage, now: datetime, report: SendReport
    ) -> bytes | None:
        assert row.id is not None
        if row.sealed is None:
            try:
                message = self.composer.compose(session, row, now)
            except RecipientRefused as err:
                outbox.finish(session, row.id, OutboxState.REFUSED, str(err), now)
                report.ended += 1
                return None
            except jinja2.TemplateError as err:
                # An operator's template that does not render: nothing is sent, and the
                # failure shows in ``status`` until the template is fixed.
                reason = f"template {row.kind}: {type(err).__name__}: {err}"
                outbox.finish(session, row.id, OutboxState.FAILED, reason, now)
                report.ended += 1
                log.error("reply not composed: template error", extra={"outbox": row.id})
                return None
            raw = message.as_bytes(policy=WIRE)
            outbox.store_composed(session, row.id, raw, self.sealer)
            return raw
        return outbox.composed_bytes(row, self.sealer)

    # -- the Sent folder -------------------------------------------------------------------

    def _file_copies(self, report: SendReport) -> None:
        if self.sent_copies is None:
            return
        done: set[int] = set()
        while not self.stop():
            with self.db.session() as session:
                row = outbox.take_unfiled(
                    session, self.holder, leases.wall_clock(), leases.holder_is_dead, done
                )
                if row is None:
                    return
                assert row.id is not None
                row_id, message_id = row.id, row.message_id
                done.add(row_id)
                raw = outbox.composed_bytes(row, self.sealer)
                tried = outbox.begin_filing(session, row_id)
            try:
                self.sent_copies.keep_copy(self.sent_folder, raw, message_id, look_first=tried)
            except MailboxError as err:
                log.warning("copy not filed in the Sent folder: %s", err)
                return  # the next pass tries again: the reply itself went
            with self.db.session() as session:
                outbox.mark_filed(session, row_id, self.clock())
            report.filed += 1
