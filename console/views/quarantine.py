"""The quarantine: each held message with its reason, and what a person may do with it
(intake/retake.py does it): release, reprocess, or delete with a reason. Every view of a
held message and every action is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.parser import BytesParser

from sqlmodel import Session, select
from starlette.responses import Response

from console.documents import DocumentView, body_view
from console.errors import BadForm, PageNotFound
from console.services import ConsoleServices
from console.web import Call, Frame, frame, redirect, render
from intake.retake import NotHeld, delete_held, take_again
from records import ledger
from records.audit import AuditAction, audit
from records.errors import NotFound, Purged
from records.tables import InboundMessage, QuarantineEntry, StoredBlob

RESOLVED_SHOWN = 50  # the most recent releases, reprocessings and deletions
HEADERS_SHOWN = ("From", "To", "Subject", "Date", "Message-ID", "Authentication-Results")


@dataclass(frozen=True, slots=True)
class HeldRow:
    id: int
    received: datetime
    sender: str
    kind: str
    reason: str
    state: str
    resolved: datetime | None


@dataclass(frozen=True, slots=True)
class QuarantinePageContext:
    frame: Frame
    held: list[HeldRow]
    resolved: list[HeldRow]


@dataclass(frozen=True, slots=True)
class HeldMessageContext:
    frame: Frame
    entry: HeldRow
    headers: list[tuple[str, str]]
    attachments: list[tuple[str, int]]  # name, bytes
    body: DocumentView
    stored: bool  # False once deleted


def _row(entry: QuarantineEntry, message: InboundMessage) -> HeldRow:
    assert entry.id is not None
    return HeldRow(
        id=entry.id,
        received=message.received_at,
        sender=message.from_address or "(none)",
        kind=entry.kind,
        reason=entry.reason,
        state=str(entry.state),
        resolved=entry.resolved_at,
    )


def _entries(session: Session, held: bool) -> list[HeldRow]:
    limit = None if held else RESOLVED_SHOWN
    return [_row(e, m) for e, m in ledger.quarantine_entries(session, held=held, limit=limit)]


def quarantine_page(services: ConsoleServices, call: Call) -> Response:
    viewer = call.user()
    with services.db.session() as session:
        held, resolved = _entries(session, True), _entries(session, False)
        audit(session, services.clock(), viewer.name, viewer.role, AuditAction.VIEW_QUARANTINE)
    return render(
        "quarantine.html", QuarantinePageContext(frame(call, "quarantine"), held, resolved)
    )


def _entry_id(call: Call) -> int:
    text = call.path_params["entry_id"]
    if not text.isdigit() or len(text) > 12:
        raise PageNotFound("No such quarantine entry.")
    return int(text)


def held_message(services: ConsoleServices, call: Call) -> Response:
    """One held message as it came: its headers, attachments and body text (never markup)."""
    viewer = call.user()
    entry_id = _entry_id(call)
    with services.db.session() as session:
        try:
            entry, message = ledger.entry(session, entry_id)
        except NotFound as err:
            raise PageNotFound("No such quarantine entry.") from err
        assert message.id is not None
        blobs = session.exec(
            select(StoredBlob.name, StoredBlob.size).where(
                StoredBlob.inbound_id == message.id, StoredBlob.kind == "attachment"
            )
        ).all()
        gone = "Its stored copy was deleted."
        try:
            raw = ledger.raw_bytes(session, message.id, services.sealer)
        except Purged as err:
            raw, gone = None, f"Its stored copy was {err}."
        except NotFound:
            raw = None  # deleted
        row = _row(entry, message)
        audit(
            session,
            services.clock(),
            viewer.name,
            viewer.role,
            AuditAction.VIEW_QUARANTINED,
            str(entry_id),
        )
    headers: list[tuple[str, str]] = []
    body = DocumentView("none", note=gone)
    if raw is not None:
        headers = _headers(raw)
        body = body_view(raw)
    context = HeldMessageContext(
        frame(call, "quarantine"), row, headers, [(n, s) for n, s in blobs], body, raw is not None
    )
    return render("held.html", context)


def _headers(raw: bytes) -> list[tuple[str, str]]:
    """The headers a person judges a message by, decoded (RFC 2047) where they can be; as
    they came where they cannot (a held message is often a broken one)."""
    parsed = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    shown = []
    for name in HEADERS_SHOWN:
        try:
            value = parsed.get(name)
        except (ValueError, IndexError, TypeError):  # a header the parser cannot decode
            value = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)[name]
        if value:
            shown.append((name, " ".join(str(value).split())[:2000]))
    return shown


def act(services: ConsoleServices, call: Call) -> Response:
    """POST /quarantine/{entry_id}/{action}: release, reprocess or delete."""
    viewer = call.user()
    entry_id, action = _entry_id(call), call.path_params["action"]
    reason = call.form.get("reason", "").strip()[:500]
    if action not in ("release", "reprocess", "delete"):
        raise PageNotFound("That cannot be done to a held message.")
    if action == "delete" and not reason:
        raise BadForm("Say why the message is deleted: the reason is kept in the audit log.")
    now = services.clock()

    def audited(session: Session, refs: list[str], held_again: bool) -> None:
        audit(
            session,
            now,
            viewer.name,
            viewer.role,
            AuditAction.QUARANTINE_ACTION,
            str(entry_id),
            did=action,
            cases=refs,
            held_again=held_again,
            reason=reason,
        )

    try:
        if action == "delete":
            with services.db.session() as session:
                delete_held(session, entry_id, now)
                audited(session, [], False)
            return redirect("/quarantine", "deleted")
        retaken = take_again(services.processor, entry_id, vouched=action == "release")
    except NotFound as err:
        raise PageNotFound("No such quarantine entry.") from err
    except NotHeld as err:
        raise BadForm(f"{err}: reload the quarantine page.") from err
    with services.db.session() as session:
        audited(session, retaken.refs, not retaken.refs)
    return redirect("/quarantine", "taken" if retaken.refs else "held_again")
