"""An outbox row -> the message to send: its context, its template, its headers.

The thread is the agency's message the case began with (or, for a message of no case, the one
it answers); a chase or an escalation answers our own request in that thread. A redirect
carries the agency's messages as they came (message/rfc822), so the other area's Co-ordinator
has the forms and documents exactly as sent.
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from sqlmodel import Session

from intake.envelope import read_headers, strip_our_headers
from records import cases as case_records
from records import ledger, outbox
from records.errors import Purged
from records.sealing import Sealer
from records.tables import Decision, InboundMessage, OutboundMessage
from responders.compose import Reply, ReplyKind, Thread, compose
from responders.context import ContextBuilder
from responders.settings import ReplySettings
from responders.templates import Templates

# Kinds that answer our own earlier request rather than the agency's message.
_FOLLOW_UPS = (ReplyKind.CHASE_FIRST, ReplyKind.CHASE_SECOND, ReplyKind.ESCALATION)


class ReplyComposer:
    def __init__(
        self,
        settings: ReplySettings,
        templates: Templates,
        contexts: ContextBuilder,
        sealer: Sealer,
    ) -> None:
        self.settings = settings
        self.templates = templates
        self.contexts = contexts
        self.sealer = sealer

    def compose(self, session: Session, row: OutboundMessage, now: datetime) -> EmailMessage:
        """The message for ``row`` (raises RecipientRefused, jinja2 errors)."""
        kind = ReplyKind(row.kind)
        context = self.contexts.for_row(session, row)
        decision = session.get(Decision, row.decision_id) if row.decision_id else None
        if decision is not None and decision.reply_text and kind not in _FOLLOW_UPS:
            rendered = self.templates.render_edited(kind, context, decision.reply_text)
        else:
            rendered = self.templates.render(kind, context)
        reply = Reply(
            kind=kind,
            to=row.recipient,
            case_ref=context.case_ref,
            title=rendered.title,
            text=rendered.text,
            html=rendered.html,
        )
        message = compose(
            reply,
            self._thread(session, row),
            self.settings.sender,
            message_id=row.message_id,
            now=now,
        )
        if kind is ReplyKind.REDIRECT and row.case_id is not None:
            for raw in self._case_messages(session, row.case_id):
                message.add_attachment(
                    BytesParser(policy=policy.default).parsebytes(raw),
                    filename="forwarded-message.eml",
                )
        return message

    def _thread(self, session: Session, row: OutboundMessage) -> Thread:
        """The agency's message the row answers (every queued row names it), and for a
        follow-up our request after it."""
        chain: list[str] = []
        message_id = None
        inbound = session.get(InboundMessage, row.inbound_id) if row.inbound_id else None
        if inbound is not None and inbound.id is not None:
            try:
                raw = ledger.raw_bytes(session, inbound.id, self.sealer)
                chain = list(read_headers(raw).references)
            except Purged:
                pass  # a late reply on a case whose mail the retention policy removed
            message_id = inbound.message_id
        if ReplyKind(row.kind) in _FOLLOW_UPS and row.case_id is not None:
            request = outbox.request_of(session, row.case_id, row.step)
            if request is not None:
                if message_id:
                    chain.append(message_id)
                message_id = request.message_id
        return Thread(message_id=message_id, references=tuple(chain))

    def _case_messages(self, session: Session, case_id: int) -> list[bytes]:
        """The case's messages as they came (those the retention policy removed are gone)."""
        found = []
        for message in case_records.messages_of(session, case_id):
            assert message.id is not None
            try:
                found.append(strip_our_headers(ledger.raw_bytes(session, message.id, self.sealer)))
            except Purged:
                continue
        return found
