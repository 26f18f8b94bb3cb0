"""``mappa-intake run`` refuses to start with one line, never a traceback; and stops cleanly
even when its database went away first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from records.sealing import new_key_text
from tests.conftest import ROOT
from tests.intake.site import Site
from tests.servers import Postgres

REMOTE_PLAIN_IMAP = (
    '[mailbox]\nkind = "imap"\nhost = "imap.example.gov.uk"\nusername = "u"\nsecurity = "none"\n'
)


def _run(
    tmp_path: Path, config: str, *args: str, key: str | None = None, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "mappa-intake.toml"
    path.write_text(config)
    hidden = ("MAPPA_DATA_KEY", "MAPPA_IMAP_PASSWORD")
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    for name, value in zip(hidden, (key, password), strict=True):
        if value is not None:
            env[name] = value
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "run", "--once", "--config", str(path), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("config", "args", "key", "code", "words"),
    [
        ("", (), None, 2, "storage.key_env: environment variable MAPPA_DATA_KEY is not set"),
        ("", (), "bm90IGEga2V5", 2, "storage key must be 32 bytes"),
        ("", ("--now", "yesterday"), "KEY", 2, "--now: 'yesterday' is not a date"),
        (
            '[database]\nurl = "postgresql+psycopg://postgres@127.0.0.1:1/none"\n',
            (),
            "KEY",
            1,
            "database: cannot be used",
        ),
        (
            REMOTE_PLAIN_IMAP,
            (),
            "KEY",
            2,
            "mailbox.password_env: environment variable",
        ),
    ],
    ids=["no key", "short key", "bad --now", "database down", "imap without password"],
)
def test_run_refuses_with_one_line(
    tmp_path: Path, config: str, args: tuple[str, ...], key: str | None, code: int, words: str
) -> None:
    done = _run(tmp_path, config, *args, key=new_key_text() if key == "KEY" else key)
    assert done.returncode == code, done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_plain_imap_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    done = _run(tmp_path, REMOTE_PLAIN_IMAP, key=new_key_text(), password="x")
    assert done.returncode == 2
    assert "none is allowed only to a loopback host" in done.stderr


def test_the_daemon_stops_cleanly_when_the_database_went_away(
    tmp_path: Path, postgres: Postgres
) -> None:
    """What it held (a mailbox's lease, replies taken) cannot be handed back then: its expiry
    hands it on, and the stop is still a clean one."""
    name = f"gone{os.getpid()}"
    site = Site(tmp_path / "site", postgres.create_database(name))
    log = tmp_path / "daemon.log"
    with log.open("wb") as stderr:
        daemon = site.start_daemon(stderr=stderr.fileno())
        try:
            deadline = time.monotonic() + 60
            while not _lease_taken(postgres, name):
                assert daemon.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the daemon never took its mailbox"
                time.sleep(0.2)
            with postgres.connect() as server:
                server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            time.sleep(1.0)
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=60)
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text
    assert "could not hand back on stopping" in text


def _lease_taken(postgres: Postgres, name: str) -> bool:
    with psycopg.connect(postgres.url(name).replace("+psycopg", "")) as db:
        try:
            return db.execute("SELECT count(*) FROM mailbox_lease").fetchone() == (1,)
        except psycopg.errors.UndefinedTable:
            return False
