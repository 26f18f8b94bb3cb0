"""Delivery status notifications (RFC 3464) read for what they say about our mail (pure).

A DSN is a ``multipart/report`` whose ``message/delivery-status`` part has one block per
recipient (``Final-Recipient``, ``Action``, ``Status``) and whose last part returns the
original message or its headers, with its Message-ID: that is how a bounce finds the reply of
ours it is about. Only permanent failures (Status 5.x.x) count; a delay (4.x.x) does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.utils import parseaddr

_MSGID = re.compile(r"<[^<>\s]+>")
_STATUS = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}$")


@dataclass(frozen=True, slots=True)
class Bounce:
    recipient: str  # lower-case
    status: str  # "5.1.1"
    original_message_id: str | None


def _original_id(message: Message) -> str | None:
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            found = _MSGID.findall(str(HeaderParser().parsestr(text).get("Message-ID", "")))
            if found:
                return str(found[0])
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                found = _MSGID.findall(str(inner[0].get("Message-ID", "")))
                if found:
                    return str(found[0])
    return None


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, str):  # some parsers leave it as text: read the blocks ourselves
        return [HeaderParser().parsestr(block) for block in payload.split("\n\n") if block.strip()]
    return []


def permanent_failures(message: Message) -> list[Bounce]:
    """The permanently failed recipients a DSN reports ([] if it is not one)."""
    original = _original_id(message)
    found: list[Bounce] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _blocks(part):
            recipient = str(block.get("Final-Recipient", "") or block.get("Original-Recipient", ""))
            status = str(block.get("Status", "")).strip().split(" ")[0]
            match = _STATUS.match(status)
            if not recipient or match is None or match.group(1) != "5":
                continue
            address = parseaddr(recipient.split(";", 1)[-1].strip())[1].lower()
            if "@" in address:
                found.append(Bounce(address, status, original))
    return found
