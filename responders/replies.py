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

from sqlmodel import Session, col, select

from intake.envelope import read_headers, strip_our_headers
from records import ledger
from records.sealing import Sealer
from records.tables import Form, InboundMessage, OutboundMessage
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
        inbound_id = row.inbound_id
        if inbound_id is None and row.case_id is not None:
            inbound_id = session.exec(
                select(Form.inbound_id).where(Form.case_id == row.case_id).order_by(col(Form.id))
            ).first()
        chain: list[str] = []
        message_id = None
        inbound = session.get(InboundMessage, inbound_id) if inbound_id else None
        if inbound is not None:
            raw = ledger.raw_bytes(session, inbound_id or 0, self.sealer)
            chain = list(read_headers(raw).references)
            message_id = inbound.message_id
        if ReplyKind(row.kind) in _FOLLOW_UPS:
            request = session.exec(
                select(OutboundMessage.message_id)
                .where(OutboundMessage.case_id == row.case_id)
                .where(OutboundMessage.kind == ReplyKind.REQUEST_INFO.value)
                .where(OutboundMessage.step == row.step)
            ).first()
            if request is not None:
                if message_id:
                    chain.append(message_id)
                message_id = request
        return Thread(message_id=message_id, references=tuple(chain))

    def _case_messages(self, session: Session, case_id: int) -> list[bytes]:
        ids = session.exec(
            select(Form.inbound_id).where(Form.case_id == case_id).order_by(col(Form.id))
        ).all()
        return [
            strip_our_headers(ledger.raw_bytes(session, inbound_id, self.sealer))
            for inbound_id in dict.fromkeys(ids)
        ]
