"""The verdict on one raw message before any form is read (pure).

In order, the first that applies decides:

1. too large                          -> quarantine "oversized"
2. no readable header or MIME tree    -> quarantine "unreadable"
3. a bounce, auto-reply, list, ours   -> quarantine "automatic"
4. sender not allow-listed or not authenticated -> quarantine "untrusted_sender"
5. otherwise the message may be read for forms.

Released messages skip 3 and 4 (a person vouched for them); nothing skips 1 and 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import errors as email_errors
from email.message import Message

from intake.automatic import OwnMail, classify
from intake.envelope import Headers
from intake.trust import TrustPolicy, judge

MIB = 1024 * 1024
# Defects that mean the MIME tree itself cannot be trusted to hold what it claims.
_STRUCTURAL_DEFECTS = (
    email_errors.NoBoundaryInMultipartDefect,
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.MultipartInvariantViolationDefect,
    email_errors.MissingHeaderBodySeparatorDefect,
)


@dataclass(frozen=True, slots=True)
class ScreeningPolicy:
    trust: TrustPolicy
    own: OwnMail
    max_message_bytes: int


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: str | None  # None: take it; else the quarantine kind
    reason: str

    @property
    def taken(self) -> bool:
        return self.kind is None


def screen(
    size: int, headers: Headers, message: Message, policy: ScreeningPolicy, *, vouched: bool
) -> Verdict:
    """``message``: the whole message as the email package parsed it (for its defects)."""
    if size > policy.max_message_bytes:
        limit = policy.max_message_bytes / MIB
        return Verdict(
            "oversized", f"message is {size / MIB:.1f} MB, over the {limit:.0f} MB limit"
        )
    unreadable = _unreadable(headers, message)
    if unreadable:
        return Verdict("unreadable", unreadable)
    if vouched:
        return Verdict(None, "released by a person")
    automatic = classify(headers, policy.own)
    if automatic:
        return Verdict("automatic", automatic)
    trust = judge(headers, policy.trust)
    if not trust.trusted:
        return Verdict("untrusted_sender", trust.reason)
    return Verdict(None, trust.reason)


def _unreadable(headers: Headers, message: Message) -> str | None:
    if not headers.from_addresses:
        return "unreadable message: no sender address in its From header"
    for part in message.walk():
        for defect in part.defects:
            if isinstance(defect, _STRUCTURAL_DEFECTS):
                return f"unreadable MIME structure ({type(defect).__name__})"
    return None
