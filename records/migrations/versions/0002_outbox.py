"""The outbox, chase steps, bounced addresses; reasons of missing items and of decisions

Revision ID: 0002
Revises: 0001

``outbound_message`` of 0001 was never written by the code of that release (it only declared
the table for the replies to come), so it is rebuilt here as the outbox rather than altered:
that works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import records.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f("ix_outbound_message_case_id"), table_name="outbound_message")
    op.drop_table("outbound_message")
    op.create_table(
        "outbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("inbound_id", sa.Integer(), nullable=True),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("not_before", records.tables.UtcDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("data_attempts", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("created_at", records.tables.UtcDateTime(), nullable=False),
        sa.Column("sent_at", records.tables.UtcDateTime(), nullable=True),
        sa.Column("filed_at", records.tables.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.ForeignKeyConstraint(["decision_id"], ["decision.id"]),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound_message.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index(
        op.f("ix_outbound_message_case_id"), "outbound_message", ["case_id"], unique=False
    )
    op.create_index(op.f("ix_outbound_message_state"), "outbound_message", ["state"], unique=False)
    op.create_table(
        "bounced_address",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("bounced_at", records.tables.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_table(
        "chase_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbound_message.id"]),
        sa.ForeignKeyConstraint(["request_id"], ["outbound_message.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "step", name="uq_chase_request_step"),
    )
    op.create_index(op.f("ix_chase_step_case_id"), "chase_step", ["case_id"], unique=False)
    op.create_index(op.f("ix_chase_step_state"), "chase_step", ["state"], unique=False)
    op.add_column("proposal", sa.Column("missing_reasons", sa.JSON(), nullable=True))
    op.add_column("decision", sa.Column("reasons", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("decision", "reasons")
    op.drop_column("proposal", "missing_reasons")
    op.drop_index(op.f("ix_chase_step_state"), table_name="chase_step")
    op.drop_index(op.f("ix_chase_step_case_id"), table_name="chase_step")
    op.drop_table("chase_step")
    op.drop_table("bounced_address")
    op.drop_index(op.f("ix_outbound_message_state"), table_name="outbound_message")
    op.drop_index(op.f("ix_outbound_message_case_id"), table_name="outbound_message")
    op.drop_table("outbound_message")
    op.create_table(
        "outbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", records.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index(
        op.f("ix_outbound_message_case_id"), "outbound_message", ["case_id"], unique=False
    )
