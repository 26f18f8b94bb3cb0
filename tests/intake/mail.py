"""Building test messages: a fixture message with its headers changed, or a small new one.

Headers are edited on the parsed message (compat32 policy, so the rest keeps its bytes).
Every address and name here is fictional.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, Message
from pathlib import Path

from tests.conftest import FIXTURES

AUTHSERV = "mx.southlanarkshire.gov.uk"
MESSAGES = FIXTURES / "messages"


def fixture_message(name: str) -> bytes:
    return (MESSAGES / name).read_bytes()


def with_headers(raw: bytes, *, remove: tuple[str, ...] = (), **headers: str) -> bytes:
    """``raw`` with the named headers replaced (``Auto_Submitted`` -> ``Auto-Submitted``);
    new ones go on top, as a receiving server would put them."""
    message: Message = email.message_from_bytes(raw, policy=email.policy.compat32)
    for name in remove:
        del message[name]
    items = [(n.replace("_", "-"), v) for n, v in headers.items()]
    for name, _ in items:
        del message[name]
    # New headers on top: the public API only appends, so the list is set directly (compat32
    # keeps it as (name, value) pairs).
    existing: list[tuple[str, str]] = message._headers  # type: ignore[attr-defined]
    message._headers = [(n, v) for n, v in items] + existing  # type: ignore[attr-defined]
    return message.as_bytes()


def auth_results(
    result: str = "dmarc=pass header.from=police.scot", authserv: str = AUTHSERV
) -> str:
    return f"{authserv}; {result}"


UNTRUSTED_SENDER = "Pat Gowan <pat.gowan@example.com>"


def from_untrusted_sender(raw: bytes, message_id: str | None = None) -> bytes:
    """``raw`` as sent from a domain off the allow-list (its DMARC passed: the domain alone
    makes it untrusted), under a new Message-ID if one is given."""
    untrusted = with_headers(
        raw,
        From=UNTRUSTED_SENDER,
        Authentication_Results=auth_results("dmarc=pass header.from=example.com"),
    )
    return with_headers(untrusted, Message_ID=message_id) if message_id else untrusted


def exchange_online_results(domain: str = "police.scot", dmarc: str = "pass") -> str:
    """An Authentication-Results header as Exchange Online writes it: no authserv-id."""
    return (
        f"spf=pass (sender IP is 192.0.2.25) smtp.mailfrom={domain}; dkim=pass (signature"
        f" was verified) header.d={domain};dmarc={dmarc} action=none header.from={domain};"
        "compauth=pass reason=100"
    )


def simple_message(
    *,
    sender: str = "Ailsa Brodie <ailsa.brodie@police.scot>",
    subject: str = "OFFICIAL-SENSITIVE: note",
    body: str = "Good morning,\n\nA note.\n",
    message_id: str = "<note.0001@police.scot>",
    extra: dict[str, str] | None = None,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    authenticated: bool = True,
) -> bytes:
    message = EmailMessage()
    if authenticated:
        domain = sender.rsplit("@", 1)[-1].rstrip(">")
        message["Authentication-Results"] = auth_results(f"dmarc=pass header.from={domain}")
    message["From"] = sender
    message["To"] = "MAPPA Lanarkshire <mappa.lanarkshire@southlanarkshire.gov.uk>"
    message["Subject"] = subject
    message["Date"] = "Mon, 16 Nov 2026 10:00:00 +0000"
    message["Message-ID"] = message_id
    for name, value in (extra or {}).items():
        message[name] = value
    message.set_content(body)
    for name, mime, data in attachments:
        maintype, subtype = mime.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def write(path: Path, raw: bytes) -> Path:
    path.write_bytes(raw)
    return path
