"""Alembic environment: the engine comes from ``records.database.alembic_config``.

Every command migrates at start, so two processes may migrate one fresh database at once (the
daemon starting while ``cases`` runs). On PostgreSQL the migration takes a transaction-level
advisory lock first: the second waits, then finds the schema at head and does nothing. SQLite
needs none: its transactions begin IMMEDIATE (records/database.py), which serialises them.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import records.tables  # noqa: F401  (registers the tables on the metadata)

# Any fixed number: the key of the advisory lock that serialises migrations.
MIGRATION_LOCK = 0x4D41505041  # "MAPPA"

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=SQLModel.metadata)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        context.run_migrations()
