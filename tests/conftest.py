"""Shared fixtures: paths, and running the real command line in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from records.database import Database
from records.sealing import Sealer, new_key_text
from tests.servers import (
    Dovecot,
    Postgres,
    SmtpSink,
    dovecot_server,
    postgres_server,
    smtp_sink,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@pytest.fixture
def cli() -> Callable[..., Run]:
    """Run ``mappa-intake`` as a user would: a separate process, its exit code and output."""

    def run(*args: str | Path, cwd: Path = ROOT, timeout: float = 180) -> Run:
        env = {**os.environ, "COLUMNS": "160"}
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=timeout,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    return run


# -- real servers (tests/servers.py) -------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    with dovecot_server() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated database (SQLite, then PostgreSQL: see ``database_url``)."""
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def sealer() -> Sealer:
    return Sealer.from_text(new_key_text())


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes this runs twice: on SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'mappa.db'}"
    server: Postgres = request.getfixturevalue("postgres")
    return server.create_database(f"t{uuid.uuid4().hex[:12]}")
