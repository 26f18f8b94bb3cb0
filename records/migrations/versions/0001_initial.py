"""The ledger and the casework: every table of records/tables.py

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import records.tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=20), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "awaiting_decision",
                "awaiting_information",
                "decided",
                "closed",
                name="casestate",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("form_type", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("agency", sa.String(length=20), nullable=True),
        sa.Column("pnc", sa.String(length=20), nullable=True),
        sa.Column("chs", sa.String(length=30), nullable=True),
        sa.Column("cro", sa.String(length=30), nullable=True),
        sa.Column("chi", sa.String(length=10), nullable=True),
        sa.Column("sps_number", sa.String(length=30), nullable=True),
        sa.Column("visor_ref", sa.String(length=30), nullable=True),
        sa.Column("mapps_ref", sa.String(length=30), nullable=True),
        sa.Column("received_at", records.tables.UtcDateTime(), nullable=False),
        sa.Column("created_at", records.tables.UtcDateTime(), nullable=False),
        sa.Column("updated_at", records.tables.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
    )
    op.create_index(op.f("ix_case_pnc"), "case", ["pnc"], unique=False)
    op.create_index(op.f("ix_case_state"), "case", ["state"], unique=False)
    op.create_table(
        "case_counter",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=200), nullable=False),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("from_address", sa.String(length=320), nullable=True),
        sa.Column("sent_at", records.tables.UtcDateTime(), nullable=True),
        sa.Column("delivered_at", records.tables.UtcDateTime(), nullable=True),
        sa.Column("received_at", records.tables.UtcDateTime(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "claimed",
                "processed",
                "quarantined",
                name="messagestate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("moved_at", records.tables.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mailbox", "folder", "uidvalidity", "uid", name="uq_inbound_place"),
    )
    op.create_index(
        op.f("ix_inbound_message_message_id"), "inbound_message", ["message_id"], unique=False
    )
    op.create_index(op.f("ix_inbound_message_sha256"), "inbound_message", ["sha256"], unique=False)
    op.create_index(op.f("ix_inbound_message_state"), "inbound_message", ["state"], unique=False)
    op.create_table(
        "mailbox_lease",
        sa.Column("mailbox", sa.String(length=200), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", records.tables.UtcDateTime(), nullable=False),
        sa.Column("last_read_at", records.tables.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("mailbox"),
    )
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", records.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_decision_case_id"), "decision", ["case_id"], unique=False)
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", records.tables.UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("inbound_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_message.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_event_case_id"), "event", ["case_id"], unique=False)
    op.create_index(op.f("ix_event_inbound_id"), "event", ["inbound_id"], unique=False)
    op.create_index(op.f("ix_event_kind"), "event", ["kind"], unique=False)
    op.create_table(
        "form",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=400), nullable=False),
        sa.Column("form_type", sa.String(length=20), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("created_at", records.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_message.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_form_case_id"), "form", ["case_id"], unique=False)
    op.create_index(op.f("ix_form_inbound_id"), "form", ["inbound_id"], unique=False)
    op.create_table(
        "outbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", records.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index(
        op.f("ix_outbound_message_case_id"), "outbound_message", ["case_id"], unique=False
    )
    op.create_table(
        "proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", records.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_proposal_case_id"), "proposal", ["case_id"], unique=False)
    op.create_table(
        "quarantine_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "held",
                "released",
                "reprocessed",
                name="quarantinestate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_at", records.tables.UtcDateTime(), nullable=False),
        sa.Column("resolved_at", records.tables.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_message.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("inbound_id"),
    )
    op.create_index(op.f("ix_quarantine_entry_state"), "quarantine_entry", ["state"], unique=False)
    op.create_table(
        "stored_blob",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_message.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_stored_blob_inbound_id"), "stored_blob", ["inbound_id"], unique=False)
    op.create_table(
        "deadline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("timescale", sa.String(length=4), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposal.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_deadline_case_id"), "deadline", ["case_id"], unique=False)
    op.create_index(op.f("ix_deadline_proposal_id"), "deadline", ["proposal_id"], unique=False)
    op.create_table(
        "form_field",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("evidence", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["form.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_form_field_form_id"), "form_field", ["form_id"], unique=False)

    _event_log_append_only()


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER event_append_only ON event")
        op.execute("DROP FUNCTION event_append_only()")
    op.drop_index(op.f("ix_form_field_form_id"), table_name="form_field")
    op.drop_table("form_field")
    op.drop_index(op.f("ix_deadline_proposal_id"), table_name="deadline")
    op.drop_index(op.f("ix_deadline_case_id"), table_name="deadline")
    op.drop_table("deadline")
    op.drop_index(op.f("ix_stored_blob_inbound_id"), table_name="stored_blob")
    op.drop_table("stored_blob")
    op.drop_index(op.f("ix_quarantine_entry_state"), table_name="quarantine_entry")
    op.drop_table("quarantine_entry")
    op.drop_index(op.f("ix_proposal_case_id"), table_name="proposal")
    op.drop_table("proposal")
    op.drop_index(op.f("ix_outbound_message_case_id"), table_name="outbound_message")
    op.drop_table("outbound_message")
    op.drop_index(op.f("ix_form_inbound_id"), table_name="form")
    op.drop_index(op.f("ix_form_case_id"), table_name="form")
    op.drop_table("form")
    op.drop_index(op.f("ix_event_kind"), table_name="event")
    op.drop_index(op.f("ix_event_inbound_id"), table_name="event")
    op.drop_index(op.f("ix_event_case_id"), table_name="event")
    op.drop_table("event")
    op.drop_index(op.f("ix_decision_case_id"), table_name="decision")
    op.drop_table("decision")
    op.drop_table("mailbox_lease")
    op.drop_index(op.f("ix_inbound_message_state"), table_name="inbound_message")
    op.drop_index(op.f("ix_inbound_message_sha256"), table_name="inbound_message")
    op.drop_index(op.f("ix_inbound_message_message_id"), table_name="inbound_message")
    op.drop_table("inbound_message")
    op.drop_table("case_counter")
    op.drop_index(op.f("ix_case_state"), table_name="case")
    op.drop_index(op.f("ix_case_pnc"), table_name="case")
    op.drop_table("case")


def _event_log_append_only() -> None:
    """The event log is evidence (domain.md §8): refuse UPDATE and DELETE in the database
    itself, so that no code path, present or future, can rewrite history."""
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER event_no_{action.lower()} BEFORE {action} ON event "
                "BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the event log is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON event "
        "FOR EACH ROW EXECUTE FUNCTION event_append_only()"
    )
