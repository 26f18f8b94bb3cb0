"""A case as a bundle for the system of record (``mappa-intake export``): everything the
intake knows of it as one JSON record, and the files it holds, decrypted.

``case.json`` is the case as ``cases --json`` shows it, with every form and its fields
(value, confidence, evidence), the corrections, every triage result with its deadlines, the
decisions, and the thread (the agencies' messages and our replies). The files: each
attachment as it was received (``documents/``), each inbound message as it came and each of
our replies as it was sent (``messages/``), while still held; what the retention policy
removed is named in ``case.json`` with the date it went.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from records import cases as case_records
from records import outbox, views
from records.errors import SealError
from records.ledger import open_blob, sha256
from records.sealing import Sealer
from records.tables import (
    Case,
    Decision,
    FieldCorrection,
    FormField,
    OutboundMessage,
    Proposal,
    StoredBlob,
)

FORMAT = "mappa-intake case bundle 1"
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(slots=True)
class Bundle:
    record: dict[str, Any]
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (path in the bundle, bytes)

    def add(self, path: str, data: bytes) -> str:
        taken = {p for p, _ in self.files}
        stem, dot, ext = path.rpartition(".")
        if not dot or "/" in ext:
            stem, ext = path, ""
        unique, n = path, 1
        while unique in taken:
            n += 1
            unique = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
        self.files.append((unique, data))
        return unique


def safe_name(name: str) -> str:
    """A file name as the agency gave it, made safe for any file system and ZIP reader."""
    cleaned = _UNSAFE.sub("_", name.replace("/", "_").replace("\\", "_")).strip(" .")
    return cleaned[:120] or "document"


def _when(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _removed(at: datetime | None) -> str | None:
    return f"removed under the retention policy on {at.date().isoformat()}" if at else None


def case_bundle(
    session: Session, case: Case, sealer: Sealer, flag: views.DeadlineFlagger | None = None
) -> Bundle:
    """Raises SealError if a held blob cannot be opened or is not what was stored."""
    assert case.id is not None
    bundle = Bundle(record={"format": FORMAT, **views.case_summary(session, case, flag)})
    record = bundle.record
    record.update(
        {
            "received_at": _when(case.received_at),
            "closed_at": _when(case.closed_at),
            "agency": case.agency,
            "identifiers": {
                "pnc": case.pnc,
                "chs": case.chs,
                "cro": case.cro,
                "chi": case.chi,
                "sps": case.sps_number,
                "visor": case.visor_ref,
                "mapps": case.mapps_ref,
            },
            "fields": case_records.merged_fields(session, case.id),
        }
    )
    record["forms"] = _forms(session, case.id)
    record["corrections"] = [
        {
            "name": c.name,
            "value": c.value,
            "reason": c.reason,
            "by": c.corrected_by,
            "at": _when(c.corrected_at),
        }
        for c in session.exec(
            select(FieldCorrection)
            .where(FieldCorrection.case_id == case.id)
            .order_by(col(FieldCorrection.id))
        ).all()
    ]
    record["proposals"] = _proposals(session, case.id)
    record["decisions"] = [
        {
            "outcome": d.outcome,
            "level": d.level,
            "reasons": list(d.reasons or []),
            "note": d.note,
            "reply_text": d.reply_text,
            "by": d.decided_by,
            "at": _when(d.decided_at),
        }
        for d in session.exec(
            select(Decision).where(Decision.case_id == case.id).order_by(col(Decision.id))
        ).all()
    ]
    record["thread"] = {
        "inbound": _inbound(session, bundle, case.id, sealer),
        "replies": _replies(session, bundle, case.id, sealer),
    }
    return bundle


def _forms(session: Session, case_id: int) -> list[dict[str, Any]]:
    forms = []
    for form in case_records.forms_of(session, case_id):
        fields = session.exec(
            select(FormField).where(FormField.form_id == form.id).order_by(col(FormField.id))
        ).all()
        forms.append(
            {
                "id": form.id,
                "source": form.source,
                "form_type": form.form_type,
                "inbound_id": form.inbound_id,
                "warnings": list(form.warnings or []),
                "attachments": list(form.attachments or []),
                "read_at": _when(form.created_at),
                "fields": {
                    f.name: {"value": f.value, "confidence": f.confidence, "evidence": f.evidence}
                    for f in fields
                },
            }
        )
    return forms


def _proposals(session: Session, case_id: int) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Proposal).where(Proposal.case_id == case_id).order_by(col(Proposal.id))
    ).all()
    return [
        {
            "outcome": p.outcome,
            "level": p.level,
            "complete": p.complete,
            "missing": list(p.missing),
            "missing_reasons": list(p.missing_reasons or []),
            "reasons": list(p.reasons),
            "at": _when(p.created_at),
            "deadlines": [
                {
                    "id": d.timescale,
                    "from": _when(d.start),
                    "due": _when(d.due),
                    "status": d.status,
                }
                for d in case_records.deadlines_of(session, p.id)
            ]
            if p.id is not None
            else [],
        }
        for p in rows
    ]


def _inbound(
    session: Session, bundle: Bundle, case_id: int, sealer: Sealer
) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = []
    for number, message in enumerate(case_records.messages_of(session, case_id), start=1):
        blobs = session.exec(
            select(StoredBlob)
            .where(StoredBlob.inbound_id == message.id)
            .order_by(col(StoredBlob.id))
        ).all()
        item: dict[str, Any] = {
            "message_id": message.message_id,
            "from": message.from_address,
            "date": _when(message.sent_at),
            "delivered_at": _when(message.delivered_at),
            "received_at": _when(message.received_at),
            "sha256": message.sha256,
            "size": message.size,
            "eml": None,
            "documents": [],
        }
        for blob in blobs:
            if blob.kind == "raw":
                if blob.purged_at is not None:
                    item["removed"] = _removed(blob.purged_at)
                else:
                    path = f"messages/inbound-{number:02d}.eml"
                    item["eml"] = bundle.add(path, _open(blob, sealer))
                continue
            document: dict[str, Any] = {
                "name": blob.name,
                "sha256": blob.sha256,
                "size": blob.size,
                "file": None,
            }
            if blob.purged_at is not None:
                document["removed"] = _removed(blob.purged_at)
            else:
                path = f"documents/{number:02d}-{safe_name(blob.name)}"
                document["file"] = bundle.add(path, _open(blob, sealer))
            item["documents"].append(document)
        if not blobs:
            item["removed"] = "its stored copy was deleted"
        shown.append(item)
    return shown


def _open(blob: StoredBlob, sealer: Sealer) -> bytes:
    data = open_blob(blob, sealer)
    if sha256(data) != blob.sha256:
        raise SealError(f"stored blob {blob.id}: its bytes do not match their sha256")
    return data


def _replies(
    session: Session, bundle: Bundle, case_id: int, sealer: Sealer
) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = []
    for reply in views.replies_of(session, case_id):
        item: dict[str, Any] = {
            "kind": reply.kind,
            "step": reply.step,
            "recipient": reply.recipient,
            "message_id": reply.message_id,
            "state": reply.state,
            "error": reply.error,
            "queued_at": _when(reply.created_at),
            "sent_at": _when(reply.sent_at),
            "eml": None,
        }
        if reply.purged_at is not None:
            item["removed"] = _removed(reply.purged_at)
        elif reply.sealed is not None and reply.state in outbox.SENT_STATES:
            name = f"messages/reply-{len(shown) + 1:02d}-{safe_name(reply.kind)}.eml"
            item["eml"] = bundle.add(name, _composed(reply, sealer))
        shown.append(item)
    return shown


def _composed(reply: OutboundMessage, sealer: Sealer) -> bytes:
    return outbox.composed_bytes(reply, sealer)
