"""Composing an outgoing message (pure): the headers every reply of ours carries.

* our own Message-ID (made by ``intake.envelope.our_message_id`` when the reply was queued:
  intake recognises it coming back);
* ``In-Reply-To`` the agency's message and ``References`` its thread plus that message
  (RFC 5322 §3.6.4), so the agency's mail client threads it and its answer finds the case;
* the case reference in brackets and the protective marking in the subject;
* ``Auto-Submitted`` (RFC 3834): ``auto-replied`` for the acknowledgement and the
  secure-e-mail reply, ``auto-generated`` for chases; none for a reply a person approved;
* ``X-Auto-Response-Suppress: All`` (Exchange: no out-of-office answers to us) and our loop
  header;
* never to an address outside the allow-list (domain.md §9): ``RecipientRefused``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from enum import StrEnum

from intake.envelope import LOOP_HEADER, domain_of
from intake.trust import in_domain

# How our messages are written: CRLF line ends (SMTP), and headers folded only past RFC 5322's
# hard limit of 998 characters: at 78 the email package folds a subject that begins
# "OFFICIAL-SENSITIVE: [" straight after "Subject:", which some clients show as a blank subject.
WIRE = policy.SMTP.clone(max_line_length=998)
# References longer than this are cut to the first and the newest (RFC 5322 allows it; some
# servers refuse very long header lines).
MAX_REFERENCES = 20


class ReplyKind(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    ACCEPTANCE = "acceptance"
    REJECTION = "rejection"
    REQUEST_INFO = "request_info"
    SECURE_EMAIL = "secure_email"
    CHASE_FIRST = "chase_first"
    CHASE_SECOND = "chase_second"
    ESCALATION = "escalation"
    REDIRECT = "redirect"
    # To the operator, about the service itself (responders/alerts.py): composed when queued.
    ALERT = "alert"


# RFC 3834 §5: what each kind of ours says about itself.
AUTO_SUBMITTED = {
    ReplyKind.ACKNOWLEDGEMENT: "auto-replied",
    ReplyKind.SECURE_EMAIL: "auto-replied",
    ReplyKind.CHASE_FIRST: "auto-generated",
    ReplyKind.CHASE_SECOND: "auto-generated",
    ReplyKind.ESCALATION: "auto-generated",
    ReplyKind.ALERT: "auto-generated",
}


class RecipientRefused(Exception):
    """The recipient is outside the allow-list: nothing is sent."""


@dataclass(frozen=True, slots=True)
class Sender:
    """Who we are: set once from the configuration."""

    from_header: str  # "MAPPA Lanarkshire <mappa.lanarkshire@southlanarkshire.gov.uk>"
    message_id_domain: str
    marking: str  # "OFFICIAL-SENSITIVE"
    allowed_domains: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Thread:
    """The agency's message we answer."""

    message_id: str | None
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reply:
    kind: ReplyKind
    to: str  # one address
    case_ref: str
    title: str  # the subject's own words: "Receipt of your MAPPA referral"
    text: str  # the plain-text part
    html: str  # the HTML part (already escaped by the template); "" for text only (alerts)


def check_recipient(address: str, sender: Sender) -> str:
    """The address alone, lower-case, if its domain is allow-listed; else RecipientRefused."""
    found = [a for _, a in getaddresses([address]) if "@" in a]
    if len(found) != 1:
        raise RecipientRefused(f"not one address: {len(found)} found")
    domain = domain_of(found[0])
    if not any(in_domain(domain, allowed.lower()) for allowed in sender.allowed_domains):
        raise RecipientRefused(f"recipient domain {domain} is not allow-listed")
    return found[0].lower()


def subject(reply: Reply, sender: Sender) -> str:
    if not reply.case_ref:  # a reply that belongs to no case (the secure-e-mail reply)
        return f"{sender.marking}: {reply.title}"
    return f"{sender.marking}: [{reply.case_ref}] {reply.title}"


def references(thread: Thread) -> tuple[str, ...]:
    chain = tuple(dict.fromkeys((*thread.references, *filter(None, [thread.message_id]))))
    if len(chain) > MAX_REFERENCES:
        chain = (chain[0], *chain[-(MAX_REFERENCES - 1) :])
    return chain


def compose(
    reply: Reply, thread: Thread, sender: Sender, *, message_id: str, now: datetime
) -> EmailMessage:
    """The message, ready to send. ``message_id`` is the outbox row's (``our_message_id``),
    fixed when it was queued, so a message sent twice after a crash carries the same one."""
    message = EmailMessage(policy=WIRE)
    message["From"] = sender.from_header
    message["To"] = check_recipient(reply.to, sender)
    message["Subject"] = subject(reply, sender)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    if thread.message_id:
        message["In-Reply-To"] = thread.message_id
    chain = references(thread)
    if chain:
        message["References"] = " ".join(chain)
    auto = AUTO_SUBMITTED.get(reply.kind)
    if auto:
        message["Auto-Submitted"] = auto
    message["X-Auto-Response-Suppress"] = "All"
    message[LOOP_HEADER] = reply.kind.value
    # Quoted-printable: 7-bit safe whatever the names hold, so no server needs 8BITMIME.
    message.set_content(reply.text, cte="quoted-printable")
    if reply.html:
        message.add_alternative(reply.html, subtype="html", cte="quoted-printable")
    return message
