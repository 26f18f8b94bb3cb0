"""The audit log: who saw or did what, when (domain.md §9: every access to a case by a person
is audited). Append-only: the database refuses UPDATE and DELETE on it (migration 0003).

``detail`` carries references, field names and outcomes, never a field's value or a
person's particulars; a deletion from the quarantine keeps the reason its user typed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from records.tables import AuditEntry


class AuditAction:
    """The actions written to the audit log (a plain namespace: new ones need no migration)."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOCKED_OUT = "locked_out"
    LOGOUT = "logout"
    PASSWORD_SET = "password_set"
    VIEW_QUEUE = "view_queue"
    VIEW_CASE = "view_case"
    CORRECT_FIELD = "correct_field"
    PREVIEW_REPLY = "preview_reply"
    DECIDE = "decide"
    VIEW_QUARANTINE = "view_quarantine"
    VIEW_QUARANTINED = "view_quarantined"  # one held message's headers and body
    QUARANTINE_ACTION = "quarantine_action"  # release, reprocess, delete (with the reason)
    VIEW_CHASES = "view_chases"
    VIEW_OUTBOX = "view_outbox"
    VIEW_REPORT = "view_report"
    EXPORT_REPORT = "export_report"
    VIEW_AUDIT = "view_audit"
    REFUSED = "refused"  # a user tried something their role does not allow
    USER_ADDED = "user_added"
    USER_DISABLED = "user_disabled"
    USER_RESET = "user_reset"
    KEYS_ROTATE = "keys_rotate"  # stored mail re-sealed with the key in force (key ids only)
    RETENTION_PURGE = "retention_purge"  # stored bytes removed (counts, case refs, entry ids)
    EXPORT_CASE = "export_case"  # a case bundle written for the system of record


def audit(
    session: Session,
    at: datetime,
    user_name: str,
    role: str,
    action: str,
    target: str = "",
    **detail: Any,
) -> None:
    session.add(
        AuditEntry(
            at=at,
            user_name=user_name[:100],
            role=role[:20],
            action=action,
            target=target[:100],
            detail=detail,
        )
    )
