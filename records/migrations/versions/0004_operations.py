"""Operations: mailbox cursors (EWS sync state, Graph delta link); the sections below are
added by the parts of issue 7 that need them.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import records.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # -- several daemons share the parsing of claimed messages (records/ledger.py) ---------
    op.add_column("inbound_message", sa.Column("taken_by", sa.String(length=200), nullable=True))
    op.add_column(
        "inbound_message", sa.Column("taken_until", records.tables.UtcDateTime(), nullable=True)
    )
    # -- mailbox cursors (records/cursors.py) ----------------------------------------------
    op.create_table(
        "mailbox_cursor",
        sa.Column("mailbox", sa.String(length=200), nullable=False),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("saved_at", records.tables.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("mailbox", "folder"),
    )
    # -- data handling: retention (records/retention.py) -----------------------------------
    # Nullable columns: ALTER TABLE ADD COLUMN on both databases, no table rebuilt.
    op.add_column("case", sa.Column("closed_at", records.tables.UtcDateTime(), nullable=True))
    op.add_column(
        "stored_blob", sa.Column("purged_at", records.tables.UtcDateTime(), nullable=True)
    )
    op.add_column(
        "outbound_message", sa.Column("purged_at", records.tables.UtcDateTime(), nullable=True)
    )
    # -- health and alerts (records/health.py) ---------------------------------------------
    op.create_table(
        "mailbox_health",
        sa.Column("mailbox", sa.String(length=200), nullable=False),
        sa.Column("failure_kind", sa.String(length=20), nullable=False),
        sa.Column("failed_at", records.tables.UtcDateTime(), nullable=True),
        sa.Column("failing_since", records.tables.UtcDateTime(), nullable=True),
        sa.Column("token_expires_at", records.tables.UtcDateTime(), nullable=True),
        sa.Column("watched_since", records.tables.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("mailbox"),
    )
    op.create_table(
        "alert_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("since", records.tables.UtcDateTime(), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("outbox_upto", sa.Integer(), nullable=True),
        sa.Column("raised_at", records.tables.UtcDateTime(), nullable=False),
        sa.Column("cleared_at", records.tables.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        # One raise per episode, however many daemons see the condition at once.
        sa.UniqueConstraint("kind", "subject", "episode", name="uq_alert_episode"),
    )


def downgrade() -> None:
    # -- health and alerts -------------------------------------------------------------------
    op.drop_table("alert_state")
    op.drop_table("mailbox_health")
    # -- data handling: retention ------------------------------------------------------------
    with op.batch_alter_table("outbound_message") as table:
        table.drop_column("purged_at")
    with op.batch_alter_table("stored_blob") as table:
        table.drop_column("purged_at")
    with op.batch_alter_table("case") as table:
        table.drop_column("closed_at")
    op.drop_table("mailbox_cursor")
    with op.batch_alter_table("inbound_message") as table:
        table.drop_column("taken_until")
        table.drop_column("taken_by")
