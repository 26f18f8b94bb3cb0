"""The console's people: users, sessions, one-time logins, the audit log; field corrections;
the reply text a Co-ordinator edited

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import records.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ROLES = ("coordinator", "deputy", "administrator", "read_only")


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", records.tables.UtcDateTime(), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_audit_entry_action"), "audit_entry", ["action"], unique=False)
    op.create_index(op.f("ix_audit_entry_target"), "audit_entry", ["target"], unique=False)
    op.create_index(op.f("ix_audit_entry_user_name"), "audit_entry", ["user_name"], unique=False)
    op.create_table(
        "console_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(*_ROLES, name="role", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", records.tables.UtcDateTime(), nullable=True),
        sa.Column("created_at", records.tables.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "console_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", records.tables.UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", records.tables.UtcDateTime(), nullable=False),
        sa.Column("expires_at", records.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["console_user.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_console_session_user_id"), "console_session", ["user_id"], unique=False
    )
    op.create_table(
        "field_correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("corrected_by", sa.String(length=200), nullable=False),
        sa.Column("corrected_at", records.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_field_correction_case_id"), "field_correction", ["case_id"], unique=False
    )
    op.create_table(
        "one_time_login",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", records.tables.UtcDateTime(), nullable=False),
        sa.Column("used_at", records.tables.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["console_user.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(op.f("ix_one_time_login_user_id"), "one_time_login", ["user_id"], unique=False)
    op.add_column("decision", sa.Column("reply_text", sa.Text(), nullable=True))
    op.add_column("case", sa.Column("next_due", sa.Date(), nullable=True))
    op.add_column("case", sa.Column("next_due_timescale", sa.String(length=4), nullable=True))
    op.add_column("case", sa.Column("level", sa.Integer(), nullable=True))
    op.add_column("case", sa.Column("weakest_confidence", sa.Float(), nullable=True))
    op.create_index(op.f("ix_case_next_due"), "case", ["next_due"], unique=False)
    _fill_queue_keys()
    _audit_log_append_only()


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER audit_append_only ON audit_entry")
        op.execute("DROP FUNCTION audit_append_only()")
    op.drop_index(op.f("ix_case_next_due"), table_name="case")
    for column in ("weakest_confidence", "level", "next_due_timescale", "next_due"):
        op.drop_column("case", column)
    op.drop_column("decision", "reply_text")
    op.drop_index(op.f("ix_one_time_login_user_id"), table_name="one_time_login")
    op.drop_table("one_time_login")
    op.drop_index(op.f("ix_field_correction_case_id"), table_name="field_correction")
    op.drop_table("field_correction")
    op.drop_index(op.f("ix_console_session_user_id"), table_name="console_session")
    op.drop_table("console_session")
    op.drop_table("console_user")
    op.drop_index(op.f("ix_audit_entry_user_name"), table_name="audit_entry")
    op.drop_index(op.f("ix_audit_entry_target"), table_name="audit_entry")
    op.drop_index(op.f("ix_audit_entry_action"), table_name="audit_entry")
    op.drop_table("audit_entry")


def _fill_queue_keys() -> None:
    """The queue's sort keys of the cases made before this release, as
    records.cases.refresh_queue_keys computes them (corrections did not exist yet)."""
    current = 'SELECT MAX(p.id) FROM proposal p WHERE p.case_id = "case".id'
    unmet = (
        f"d.proposal_id = ({current}) AND d.status <> 'met'"
        " AND d.timescale IN ('T1', 'T2', 'T3', 'T4', 'T5')"
    )
    op.execute(
        'UPDATE "case" SET '
        f"next_due = (SELECT MIN(d.due) FROM deadline d WHERE {unmet}), "
        "level = COALESCE("
        ' (SELECT d.level FROM decision d WHERE d.case_id = "case".id'
        "  ORDER BY d.id DESC LIMIT 1),"
        f" (SELECT p.level FROM proposal p WHERE p.id = ({current}))), "
        "weakest_confidence = (SELECT MIN(f.confidence) FROM form_field f"
        ' JOIN form ON form.id = f.form_id WHERE form.case_id = "case".id)'
    )
    op.execute(
        'UPDATE "case" SET next_due_timescale = (SELECT MIN(d.timescale) FROM deadline d'
        f' WHERE {unmet} AND d.due = "case".next_due)'
    )


def _audit_log_append_only() -> None:
    """Nobody edits the audit log (issue 6): the database refuses UPDATE and DELETE, as it
    does for the event log, whatever the code asks."""
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_no_{action.lower()} BEFORE {action} ON audit_entry "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_entry "
        "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
    )
