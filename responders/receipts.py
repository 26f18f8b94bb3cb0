"""What intake queues without a person (domain.md §7): the receipt acknowledgement of each new
case, the "please use secure e-mail" reply to a sender that did not come by a secure route,
and what a bounce of ours means. Each runs inside intake's own transaction, so a case and its
acknowledgement are recorded together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from intake.dsn import Bounce
from records import outbox
from records.events import record_event
from records.tables import Case, EventKind, InboundMessage
from responders.compose import RecipientRefused, ReplyKind, Sender, check_recipient

log = logging.getLogger(__name__)


class AutoReplies:
    def __init__(self, sender: Sender, wake: Callable[[], None] = lambda: None) -> None:
        self.sender = sender
        self.wake = wake  # tells the sender something was queued

    def _allowed(self, address: str | None) -> str | None:
        if not address:
            return None
        try:
            return check_recipient(address, self.sender)
        except RecipientRefused:
            return None

    def acknowledge(
        self, session: Session, message: InboundMessage, cases: list[Case], now: datetime
    ) -> None:
        """One acknowledgement per new case, to the address the form came from."""
        recipient = self._allowed(message.from_address)
        if recipient is None:
            return  # a released message from outside the allow-list: no reply goes there
        for case in cases:
            outbox.queue(
                session,
                key=outbox.outbox_key(case.ref, ReplyKind.ACKNOWLEDGEMENT),
                kind=ReplyKind.ACKNOWLEDGEMENT,
                recipient=recipient,
                now=now,
                message_id_domain=self.sender.message_id_domain,
                case_id=case.id,
                inbound_id=message.id,
            )

    def ask_for_secure_email(
        self, session: Session, message: InboundMessage, now: datetime
    ) -> None:
        """A sender whose domain is allow-listed but whose message failed the checks is told
        to use secure e-mail; a sender outside the allow-list gets nothing (domain.md §9:
        never reply outside it), and the Co-ordinator sees the message in quarantine."""
        recipient = self._allowed(message.from_address)
        if recipient is None:
            return
        outbox.queue(
            session,
            key=outbox.outbox_key(f"inbound-{message.id}", ReplyKind.SECURE_EMAIL),
            kind=ReplyKind.SECURE_EMAIL,
            recipient=recipient,
            now=now,
            message_id_domain=self.sender.message_id_domain,
            inbound_id=message.id,
        )

    def note_bounces(self, session: Session, bounces: list[Bounce], now: datetime) -> None:
        """A permanent failure of one of our messages flags the address (no chase goes to it
        again) and tells the Co-ordinator on the case."""
        for bounce in bounces:
            ours = (
                outbox.by_message_id(session, bounce.original_message_id)
                if bounce.original_message_id
                else None
            )
            if ours is None:
                continue  # not about a message of ours: the quarantine entry is enough
            outbox.note_bounce(session, bounce.recipient, bounce.status, ours.message_id, now)
            record_event(
                session,
                EventKind.BOUNCED,
                now,
                case_id=ours.case_id,
                reply=ours.kind,
                status=bounce.status,
            )
            if ours.case_id is not None:
                outbox.cancel_chases(session, ours.case_id, "the address bounced", now)
            log.warning(
                "a reply of ours bounced", extra={"outbox": ours.id, "status": bounce.status}
            )
