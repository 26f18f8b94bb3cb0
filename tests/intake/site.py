"""An installation for the daemon tests: a configuration file, a storage key, a database (SQLite
or PostgreSQL), a mailbox (a Maildir, or the real Dovecot) and where replies go (a Maildir, or
a real SMTP server), with the real command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from intake import maildir
from records.database import Database
from records.sealing import new_key_text
from tests.conftest import ROOT, Run
from tests.servers import DOVECOT_PASSWORD, DOVECOT_TOKEN, DOVECOT_USER, Dovecot, SmtpSink


@dataclass
class Site:
    folder: Path
    database_url: str
    dovecot: Dovecot | None = None
    smtp: SmtpSink | None = None  # replies go to it; else to a Maildir (var/mail/outgoing)
    settings: dict[str, dict[str, object]] = field(default_factory=dict)
    key: str = field(default_factory=new_key_text)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.write_config()

    @property
    def config(self) -> Path:
        return self.folder / "mappa-intake.toml"

    @property
    def inbox(self) -> Path:
        return self.folder / "var" / "mail" / "inbox"

    def write_config(self) -> None:
        sections: dict[str, dict[str, object]] = {"database": {"url": self.database_url}}
        if self.dovecot is None:
            sections["mailbox"] = {"kind": "maildir", "path": "var/mail/inbox", "wait_seconds": 0.5}
        else:
            sections["mailbox"] = {
                "kind": "imap",
                "host": "127.0.0.1",
                "port": self.dovecot.imaps_port,
                "security": "tls",
                "ca_file": str(self.dovecot.ca_file),
                "username": DOVECOT_USER,
                "wait_seconds": 5.0,
            }
        if self.smtp is not None:
            sections["outgoing"] = {"kind": "smtp"}
            sections["smtp"] = {"host": "127.0.0.1", "port": self.smtp.port, "security": "none"}
        for name, values in self.settings.items():
            sections.setdefault(name, {}).update(values)
        lines: list[str] = []
        for name, values in sections.items():
            lines.append(f"[{name}]")
            lines.extend(f"{key} = {_toml(value)}" for key, value in values.items())
        self.config.write_text("\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "MAPPA_DATA_KEY": self.key,
            "MAPPA_IMAP_PASSWORD": DOVECOT_PASSWORD,
            "MAPPA_IMAP_TOKEN": DOVECOT_TOKEN,
            "COLUMNS": "160",
        }

    def cli(self, *args: str, timeout: float = 300, extra_env: dict[str, str] | None = None) -> Run:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**self.env(), **(extra_env or {})},
            timeout=timeout,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def start_daemon(
        self, *extra: str, stderr: int = subprocess.DEVNULL
    ) -> subprocess.Popen[bytes]:
        """``mappa-intake run`` in the background (``--once`` among ``extra`` to end it)."""
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "run", *extra, "--config", str(self.config)],
            cwd=ROOT,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )

    def start_console(self, timeout: float = 60) -> subprocess.Popen[bytes]:
        """``mappa-intake console`` in the background on the configured ``console.port``,
        returned once it answers (RuntimeError with its stderr if it stops or never does)."""
        port = int(str(self.settings["console"]["port"]))
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "console", "--config", str(self.config)],
            cwd=ROOT,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2)
                return process
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        process.kill()
        _out, err = process.communicate()
        raise RuntimeError(f"the console did not start: {err.decode(errors='replace')[-2000:]}")

    def run_once(self, *extra: str) -> Run:
        return self.cli("run", "--once", *extra)

    def deliver(self, raw: bytes, when: datetime | None = None) -> None:
        if self.dovecot is not None:
            from tests.intake.imap_tools import append

            append(self.dovecot, "INBOX", raw, when)
            return
        maildir.deliver(self.inbox, raw, when)

    def database(self) -> Database:
        return Database(self.database_url)


def stop_daemons(daemons: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    """SIGTERM to each, then wait for all (killing one that does not stop in time)."""
    for daemon in daemons:
        daemon.send_signal(signal.SIGTERM)
    for daemon in daemons:
        try:
            daemon.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            daemon.kill()


def _toml(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)
