"""The headers intake relies on, read from raw bytes (pure).

Only the header block is parsed here (``BytesHeaderParser``): recognising a message, judging
its sender and threading it never walks the body. Our own ``X-MAPPA-*`` headers are stripped
from anything that arrives, so no sender can forge the marks we put on our own mail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from parsers.eml import message_date

OUR_HEADER_PREFIX = b"x-mappa-"
# The loop header every message of ours carries (responders put it on; intake looks for it).
LOOP_HEADER = "X-MAPPA-Intake-Loop"
_MSGID = re.compile(r"<[^<>\s]+>")
# A case reference in a subject, with or without the brackets we put round it.
_CASE_REF = re.compile(r"\bMAPPA-(\d{4})-(\d{4,6})\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Headers:
    message_id: str | None
    from_addresses: tuple[str, ...]  # lower-case addresses of the From header
    sent_at: datetime | None
    subject: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    raw: Message  # the parsed header block, for the rules that need more

    @property
    def from_address(self) -> str | None:
        return self.from_addresses[0] if len(self.from_addresses) == 1 else None

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Message-IDs this one answers, nearest first."""
        return tuple(dict.fromkeys((*self.in_reply_to, *reversed(self.references))))

    def case_ref(self) -> str | None:
        found = _CASE_REF.search(self.subject)
        return f"MAPPA-{found.group(1)}-{found.group(2)}" if found else None


def _ids(value: object) -> tuple[str, ...]:
    return tuple(_MSGID.findall(str(value or "")))


def _sent_at(message: Message) -> datetime | None:
    """The Date header, if it names its zone (a "-0000" date is of no known zone)."""
    sent = message_date(message)
    return sent if sent is not None and sent.tzinfo is not None else None


def _header(message: Message, name: str) -> str:
    try:
        return str(message.get(name, "") or "")
    except (TypeError, ValueError, IndexError):  # a malformed header the policy cannot fold
        return ""


def read_headers(raw: bytes) -> Headers:
    message = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
    found_ids = _ids(_header(message, "Message-ID"))
    senders = [a.lower() for _, a in getaddresses([_header(message, "From")]) if "@" in a]
    return Headers(
        message_id=found_ids[0] if found_ids else None,
        from_addresses=tuple(senders),
        sent_at=_sent_at(message),
        subject=" ".join(_decoded(_header(message, "Subject")).split()),
        in_reply_to=_ids(_header(message, "In-Reply-To")),
        references=_ids(_header(message, "References")),
        raw=message,
    )


def _decoded(value: str) -> str:
    from email.header import decode_header, make_header

    try:
        return str(make_header(decode_header(value)))
    except (UnicodeError, LookupError, ValueError):
        return value


# Our Message-IDs are "<mappa-intake.TOKEN@DOMAIN>": the prefix tells ours apart from other
# mail of the same council domain (a Justice Social Work officer's, say).
OUR_MESSAGE_ID_PREFIX = "mappa-intake."


def our_message_id(token: str, domain: str) -> str:
    return f"<{OUR_MESSAGE_ID_PREFIX}{token}@{domain}>"


def is_our_message_id(message_id: str, domain: str) -> bool:
    local, _, host = message_id.strip("<>").rpartition("@")
    return local.startswith(OUR_MESSAGE_ID_PREFIX) and host.lower() == domain.lower()


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip().lower().rstrip(".")


def strip_our_headers(raw: bytes) -> bytes:
    """The message without any ``X-MAPPA-*`` header (folded continuation lines included);
    the body and every other header byte are kept as they were."""
    end = _header_end(raw)
    lines = raw[:end].splitlines(keepends=True)
    kept: list[bytes] = []
    dropping = False
    for line in lines:
        if line[:1] in (b" ", b"\t"):  # a folded continuation of the header above
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith(OUR_HEADER_PREFIX)
        if not dropping:
            kept.append(line)
    return b"".join(kept) + raw[end:]


def _header_end(raw: bytes) -> int:
    """Where the header block ends (its last line ending included)."""
    ends = [at + 1 for at in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if at >= 0]
    return min(ends) if ends else len(raw)
