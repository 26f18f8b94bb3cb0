"""The command line's copy of what it cannot import at --help time stays in step."""

from __future__ import annotations

from app.cli import ROLES
from records.tables import Role


def test_users_add_offers_every_role_and_no_other() -> None:
    assert tuple(role.value for role in Role) == ROLES
