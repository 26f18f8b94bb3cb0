"""Which form this is: notification or referral, ordinary or restricted patient.

The title says it ("MAPPA Referral Form (Level 2/3)", "Restricted Patient Notification"), so
the opening lines are read first; a document without a title is judged on all its words.
"""

from __future__ import annotations

import re

from parsers.model import FormType

# The title sits in the first few lines; 600 characters covers a letterhead above it.
HEAD_CHARS = 600
# A document with no title but this many MAPPA fields is still a form of unknown type.
# The title names the restricted-patient forms; ordinary forms merely list "Restricted
# patient" among their category boxes, so the words alone are not enough.
_RP = re.compile(
    r"restricted\s+patients?\W+(?:mappa\W+)?(?:stage\s*\d\W+)?(?:notification|referral)"
    r"|(?:notification|referral)(?:\s+form)?\W+(?:for\W+)?(?:a\W+)?restricted\s+patients?",
    re.I,
)
_REFERRAL = re.compile(r"\breferral\b|\brefer(?:ring)?\s+(?:to|at)\s+level\b", re.I)
# "notification requirements" is the SONR, not the form.
_NOTIFICATION = re.compile(r"\bstage\s*1\b|\bnotification\b(?!\s+requirement)", re.I)


def _kind(text: str, rp: bool) -> FormType | None:
    referral = _REFERRAL.search(text)
    notification = _NOTIFICATION.search(text)
    if referral is None and notification is None:
        return None
    if notification is None or (referral is not None and referral.start() < notification.start()):
        return FormType.RP_REFERRAL if rp else FormType.REFERRAL
    return FormType.RP_NOTIFICATION if rp else FormType.NOTIFICATION


def detect_form_type(text: str, field_count: int) -> FormType:
    # Only the title makes a restricted-patient form: ordinary forms list "restricted
    # patient" among their category boxes.
    rp = _RP.search(text[:HEAD_CHARS]) is not None
    head = _kind(text[:HEAD_CHARS], rp)
    if head is not None:
        return head
    if field_count == 0:
        return FormType.UNKNOWN
    return _kind(text, rp) or FormType.UNKNOWN
