"""Mail that no person wrote to us: never a form (pure).

Auto-replies and other automatic mail (RFC 3834 ``Auto-Submitted``, ``Precedence``,
Microsoft's ``X-Auto-Response-Suppress``), delivery status notifications (RFC 3464: a
``multipart/report`` of ``delivery-status``, a null Return-Path, a mailer-daemon sender),
mailing-list mail (RFC 2369/2919 ``List-*`` headers) and our own messages coming back (our
loop header, our Message-ID domain, our own address). Answering any of these would start a
mail loop, so they are held, never made into cases and never answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.envelope import LOOP_HEADER, Headers, is_our_message_id

_BOUNCE_LOCALPARTS = ("mailer-daemon", "postmaster")
_AUTO_PRECEDENCE = ("bulk", "junk", "list", "auto_reply")
# X-Auto-Response-Suppress values that Exchange puts on its own automatic messages.
_SUPPRESS_MARKS = ("all", "oof", "autoreply")
_LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post")


@dataclass(frozen=True, slots=True)
class OwnMail:
    """How we recognise our own messages."""

    message_id_domain: str
    addresses: tuple[str, ...]


def _get(headers: Headers, name: str) -> str:
    return str(headers.raw.get(name, "") or "").strip()


def bounce(headers: Headers) -> str | None:
    content_type = _get(headers, "Content-Type").lower()
    if "multipart/report" in content_type and "delivery-status" in content_type:
        return "delivery status notification (bounce)"
    if _get(headers, "Return-Path").replace(" ", "") == "<>":
        return "delivery status notification (null Return-Path)"
    sender = headers.from_address or ""
    if sender.split("@", 1)[0] in _BOUNCE_LOCALPARTS:
        return "delivery status notification (from the mail system)"
    return None


def own(headers: Headers, ours: OwnMail) -> str | None:
    if headers.raw.get(LOOP_HEADER) is not None:
        return "our own message came back (loop header)"
    if headers.message_id and is_our_message_id(headers.message_id, ours.message_id_domain):
        return "our own message came back (our Message-ID)"
    if headers.from_address and headers.from_address in ours.addresses:
        return "our own message came back (sent from our address)"
    return None


def auto_reply(headers: Headers) -> str | None:
    submitted = _get(headers, "Auto-Submitted").lower()
    if submitted and not submitted.startswith("no"):
        return f"automatic reply (Auto-Submitted: {submitted.split(';')[0]})"
    precedence = _get(headers, "Precedence").lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"automatic or bulk mail (Precedence: {precedence})"
    suppress = _get(headers, "X-Auto-Response-Suppress").lower()
    if any(mark in suppress for mark in _SUPPRESS_MARKS):
        return "automatic reply (X-Auto-Response-Suppress)"
    for name in ("X-Autoreply", "X-Autorespond"):
        if headers.raw.get(name) is not None:
            return f"automatic reply ({name})"
    if "disposition-notification" in _get(headers, "Content-Type").lower():
        return "read receipt"
    return None


def mailing_list(headers: Headers) -> str | None:
    for name in _LIST_HEADERS:
        if headers.raw.get(name) is not None:
            return f"mailing-list message ({name})"
    return None


def classify(headers: Headers, ours: OwnMail) -> str | None:
    """Why this message is automatic, or None if a person may have written it."""
    return bounce(headers) or own(headers, ours) or auto_reply(headers) or mailing_list(headers)
