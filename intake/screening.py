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

import email
from dataclasses import dataclass
from email import errors as email_errors
from email import policy

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


def screen(raw: bytes, headers: Headers, policy: ScreeningPolicy, *, vouched: bool) -> Verdict:
    if len(raw) > policy.max_message_bytes:
        limit = policy.max_message_bytes / MIB
        return Verdict(
            "oversized", f"message is {len(raw) / MIB:.1f} MB, over the {limit:.0f} MB limit"
        )
    unreadable = _unreadable(raw, headers)
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


def _unreadable(raw: bytes, headers: Headers) -> str | None:
    if not headers.from_addresses:
        return "unreadable message: no sender address in its From header"
    try:
        message = email.message_from_bytes(raw, policy=policy.compat32)
    except Exception as err:  # the parser is lenient, but a hostile input may still trip it
        return f"unreadable message: MIME cannot be parsed ({type(err).__name__})"
    for part in message.walk():
        for defect in part.defects:
            if isinstance(defect, _STRUCTURAL_DEFECTS):
                return f"unreadable MIME structure ({type(defect).__name__})"
    return None
