"""An e-mail (.eml): every MIME part is looked at, and every form in it is read.

A message may carry the form as a Word or PDF attachment, typed into its body, pasted as HTML,
or several forms at once, beside supporting documents. Each part's content is sniffed, never
trusted from its Content-Type. A part that cannot be read becomes a warning on that part's
result, so one bad attachment never hides the good ones. Attachments that are not forms are the
supporting documents: their names go with each form so triage can see what was really sent.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from typing import NamedTuple

from parsers.errors import LimitExceeded, ParseError
from parsers.limits import Limits
from parsers.model import FormType, ParsedForm

# A part with fewer named fields than this and no form title is not a form (a covering note,
# a risk management plan attached as a supporting document).
MIN_FORM_FIELDS = 4
_UNSAFE_NAME = re.compile(r"[\x00-\x1f/\\]+")


@dataclass(frozen=True, slots=True)
class Part:
    """One candidate document inside a message."""

    label: str  # "attachment:referral.pdf" or "body"
    name: str
    data: bytes
    warnings: tuple[str, ...] = ()


# Reads one document; returns its forms or raises ParseError.
ReadDocument = Callable[[bytes, str, str], list[ParsedForm]]


def safe_filename(name: str) -> str:
    """An attachment's name as it may be shown: no path, no control characters."""
    cleaned = _UNSAFE_NAME.sub("_", name).strip(" ._") or "unnamed"
    return cleaned[-120:]


def message_date(message: Message) -> datetime | None:
    value = message.get("Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None


class SplitMessage(NamedTuple):
    """A message taken apart once: intake screens it, stores its attachments and reads its
    forms from the same split."""

    message: EmailMessage
    parts: list[Part]
    warnings: list[str]


def split_message(data: bytes, limits: Limits) -> SplitMessage:
    """The message, its attachments and its body as parts, and message-level warnings."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    warnings = [f"MIME defect: {type(d).__name__}" for d in message.defects][:5]
    parts: list[Part] = []
    body: Part | None = None
    html_body: Part | None = None
    count = 0
    for part in message.walk():
        count += 1
        if count > limits.max_mime_parts:
            raise LimitExceeded(f"message has more than {limits.max_mime_parts} MIME parts")
        if part.is_multipart():
            continue
        taken = _part(part, len(parts) + 1)
        if taken is None:
            continue
        if taken.label.startswith("attachment:"):
            parts.append(taken)
        elif part.get_content_type() == "text/html":
            html_body = html_body or taken
        else:
            body = body or taken
    chosen = body or html_body
    if chosen is not None:
        parts.insert(0, chosen)
    return SplitMessage(message, parts, warnings)


def _part(part: Message, number: int) -> Part | None:
    filename = part.get_filename()
    disposition = part.get_content_disposition()
    content_type = part.get_content_type()
    problems = tuple(f"MIME defect: {type(d).__name__}" for d in part.defects)[:3]
    try:
        payload = part.get_payload(decode=True)
    except Exception as err:  # the email package is lenient, but not always
        payload = b""
        problems = (*problems, f"undecodable part ({type(err).__name__})")
    data = payload if isinstance(payload, bytes) else b""
    if filename or disposition == "attachment" or not content_type.startswith("text/"):
        name = safe_filename(filename or f"part-{number}")
        return Part(f"attachment:{name}", name, data, problems)
    if content_type in ("text/html", "text/plain"):
        name = "body.html" if content_type == "text/html" else "body.txt"
        return Part("body", name, _decoded_text(part, data), problems)
    return None


def _decoded_text(part: Message, data: bytes) -> bytes:
    """A text body in UTF-8, whatever charset it declared (or failed to declare)."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, KeyError):
        return data
    return content.encode("utf-8") if isinstance(content, str) else data


def is_form(form: ParsedForm, min_fields: int = MIN_FORM_FIELDS) -> bool:
    return form.form_type is not FormType.UNKNOWN or len(form.fields) >= min_fields


def read_split(
    split: SplitMessage, source: str, read: ReadDocument, *, answer: bool = False
) -> list[ParsedForm]:
    """One result per form found; a result with a warning for each part that failed; and, when
    the message holds no form at all, one result saying so (``failure`` "no_form").

    ``answer``: the message answers one of our requests, so one named field is enough to
    count, and the quoted earlier messages are cut from a plain-text body first."""
    message, parts, warnings = split
    if answer:
        parts = [_without_quotes(p) if p.name == "body.txt" else p for p in parts]
    min_fields = 1 if answer else MIN_FORM_FIELDS
    subject = str(message.get("Subject", ""))
    received = message_date(message)
    forms: list[ParsedForm] = []
    failed: list[ParsedForm] = []
    supporting: list[str] = []
    for part in parts:
        where = f"{source}#{part.label}"
        try:
            found = read(part.data, part.name, where)
        except ParseError as err:
            failed.append(_failure(where, f"{part.label}: {err}", part.warnings, err.kind))
            continue
        readable = [f for f in found if is_form(f, min_fields)]
        if not readable and part.label.startswith("attachment:"):
            supporting.append(part.name)
        for form in readable:
            form.warnings[:0] = list(part.warnings)
            if part.label == "body" and form.form_type is FormType.UNKNOWN:
                form = _typed_by_subject(form, subject)
            forms.append(form)
    if not answer:
        forms = _without_covering_note(forms)
    names = tuple(p.name for p in parts if p.label.startswith("attachment:"))
    for form in forms:
        own = form.source.rsplit("attachment:", 1)[-1]
        form.attachments = tuple(n for n in names if n != own)
        form.in_message = True
        form.received = received
        form.warnings[:0] = warnings
    results = forms + failed
    if not forms:
        note = "no MAPPA form found in this message"
        if supporting:
            note += f" (attachments: {', '.join(supporting)})"
        results.insert(0, _failure(source, note, tuple(warnings), "no_form"))
    for result in results:
        result.received = received
    return results


def _without_covering_note(forms: list[ParsedForm]) -> list[ParsedForm]:
    """A body that names a form ("please find attached the MAPPA referral") but carries
    fewer than MIN_FORM_FIELDS fields, beside a form with more, is its covering note."""
    full = [f for f in forms if len(f.fields) >= MIN_FORM_FIELDS]
    if not full:
        return forms
    return [f for f in forms if f in full or not f.source.endswith("#body")]


def _typed_by_subject(form: ParsedForm, subject: str) -> ParsedForm:
    from parsers.formtype import detect_form_type

    kind = detect_form_type(subject, len(form.fields))
    return form if kind is FormType.UNKNOWN else replace(form, form_type=kind)


def _failure(source: str, reason: str, warnings: tuple[str, ...], kind: str) -> ParsedForm:
    return ParsedForm(source, FormType.UNKNOWN, {}, [*warnings, reason], failure=kind)


def _without_quotes(part: Part) -> Part:
    from parsers.quoting import cut_quoted

    text = part.data.decode("utf-8", "replace")
    return replace(part, data=cut_quoted(text).encode("utf-8"))
