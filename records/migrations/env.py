"""Alembic environment: the engine comes from ``records.database.alembic_config``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import records.tables  # noqa: F401  (registers the tables on the metadata)

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=SQLModel.metadata)
    with context.begin_transaction():
        context.run_migrations()
