"""Who may do what in the console: one table of roles and permissions.

The Co-ordinator and a deputy work cases (domain.md §7: a deputy must be able to act when the
Co-ordinator is away); an administrator keeps accounts and reads the audit log but works no
case; a read-only user sees and changes nothing but what the pages show.
"""

from __future__ import annotations

from enum import StrEnum

from records.tables import Role


class Permission(StrEnum):
    VIEW = "view"  # the queue, cases, chases, outbox, reports
    DECIDE = "decide"  # decide a case, approve and send its reply
    CORRECT = "correct"  # correct an extracted field
    QUARANTINE = "quarantine"  # release, reprocess, delete held messages
    READ_AUDIT = "read_audit"


_CASEWORK = frozenset(
    {Permission.VIEW, Permission.DECIDE, Permission.CORRECT, Permission.QUARANTINE}
)
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.COORDINATOR: _CASEWORK,
    Role.DEPUTY: _CASEWORK,
    Role.ADMINISTRATOR: frozenset({Permission.VIEW, Permission.READ_AUDIT}),
    Role.READ_ONLY: frozenset({Permission.VIEW}),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]
