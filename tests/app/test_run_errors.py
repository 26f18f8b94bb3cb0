"""``mappa-intake run`` refuses to start with one line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from records.sealing import new_key_text
from tests.conftest import ROOT

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
