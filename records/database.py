"""An engine and sessions for one database URL, and the migrations that build its schema.

SQLite (the embedded default, a file under ./var/) and PostgreSQL (psycopg 3) are supported.
SQLite is opened in WAL mode with a busy timeout, so the daemon and a command such as
``quarantine release`` can use one file at once; every SQLite transaction begins IMMEDIATE
(takes the write lock at BEGIN), so two writers queue instead of failing on a lock upgrade.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

from records.errors import RecordsError

# How long a SQLite writer waits for another's lock before giving up (ms); a message's
# transaction takes milliseconds, a quarantine release no more.
SQLITE_BUSY_MS = 30_000


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")  # a committed claim survives a power cut
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The database at ``url``; ``session()`` gives one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            _ensure_folder(url)
            self.engine = sa.create_engine(url)
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest migration (safe to call on every start)."""
        from alembic import command

        command.upgrade(alembic_config(self.engine), "head")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(engine: sa.Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("records") / "migrations"))
    config.attributes["engine"] = engine
    return config


def _ensure_folder(url: str) -> None:
    path = sa.engine.make_url(url).database
    if not path or path == ":memory:":
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RecordsError(f"database {path}: cannot create its folder: {err}") from err
