"""Several senders share the outbox (records/outbox.py): rows taken one at a time instead of
one sender holding a lease, and the per-recipient rate counted from each row's admission.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import records.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns: ALTER TABLE ADD COLUMN on both databases, no table rebuilt.
    op.add_column("outbound_message", sa.Column("taken_by", sa.String(length=200), nullable=True))
    op.add_column(
        "outbound_message", sa.Column("taken_until", records.tables.UtcDateTime(), nullable=True)
    )
    op.add_column(
        "outbound_message", sa.Column("admitted_at", records.tables.UtcDateTime(), nullable=True)
    )
    op.create_index(
        op.f("ix_outbound_message_admitted_at"), "outbound_message", ["admitted_at"], unique=False
    )
    # What was sent before counts in the rate as it did: admitted when it was sent.
    op.execute("UPDATE outbound_message SET admitted_at = sent_at WHERE sent_at IS NOT NULL")
    # The lease the one sender held is no longer taken by anyone.
    op.execute("DELETE FROM mailbox_lease WHERE mailbox = 'outbox'")


def downgrade() -> None:
    op.drop_index(op.f("ix_outbound_message_admitted_at"), table_name="outbound_message")
    with op.batch_alter_table("outbound_message") as table:
        table.drop_column("admitted_at")
        table.drop_column("taken_until")
        table.drop_column("taken_by")
