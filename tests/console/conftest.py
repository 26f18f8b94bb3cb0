"""The console served for real: ``mappa-intake console`` on a loopback port, over a database
the real daemon filled from the fixture messages, its replies going to a real SMTP server
(aiosmtpd); Debian's Chromium driven by Playwright (launched by its path: never
``playwright install``)."""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.intake.site import Site
from tests.servers import SmtpSink, free_port, smtp_sink

# The scanned forms need OCR (half a minute each): the console's tests do without them.
SLOW = ("rp-referral-scan.eml", "scanned-hard-copy.eml")
PASSWORD = "fictional passphrase for tests"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
XSS_MESSAGE_ID = "<20270105092000.xss.mappa@southlanarkshire.gov.uk>"


def message_id(fixture: str) -> str:
    raw = (FIXTURES / "messages" / fixture).read_bytes()
    return str(BytesParser(policy=policy.default).parsebytes(raw)["Message-ID"]).strip()


def ref_of(console: ConsoleSite, inbound_message_id: str) -> str:
    rows = console.query(
        'SELECT DISTINCT c.ref FROM "case" c JOIN form f ON f.case_id = c.id'
        " JOIN inbound_message m ON m.id = f.inbound_id WHERE m.message_id = :mid",
        mid=inbound_message_id,
    )
    assert len(rows) == 1, rows
    return str(rows[0][0])


def decisions_on(console: ConsoleSite, ref: str) -> int:
    rows = console.query(
        'SELECT COUNT(*) FROM decision d JOIN "case" c ON c.id = d.case_id WHERE c.ref = :ref',
        ref=ref,
    )
    return int(rows[0][0])


def audit_rows(console: ConsoleSite, user: str) -> list[tuple[str, str, Any]]:
    return [
        (row[0], row[1], row[2])
        for row in console.query(
            "SELECT action, target, at FROM audit_entry WHERE user_name = :user ORDER BY id",
            user=user,
        )
    ]


def entry_of(console: ConsoleSite, inbound_message_id: str) -> int:
    """The quarantine entry of a held message."""
    rows = console.query(
        "SELECT q.id FROM quarantine_entry q JOIN inbound_message m ON m.id = q.inbound_id"
        " WHERE m.message_id = :mid",
        mid=inbound_message_id,
    )
    assert len(rows) == 1, rows
    return int(rows[0][0])


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("Debian's chromium is not installed: make test installs it (apt-get)")
    return found


def xss_message() -> bytes:
    """A typed notification whose index offence carries markup meant to run in the console."""
    raw = (FIXTURES / "messages" / "notification-in-text-body.eml").read_bytes()
    message = BytesParser(policy=policy.default).parsebytes(raw)
    body = message.get_content()
    body = re.sub(r"^Index offence:$", f"Index offence: {XSS}", body, count=1, flags=re.M)
    del message["Message-ID"]
    message["Message-ID"] = XSS_MESSAGE_ID
    message.set_content(body, cte="quoted-printable")
    return bytes(message)


def untrusted_message(number: int) -> bytes:
    """A typed notification from an address no allow-list knows: held in the quarantine."""
    raw = (FIXTURES / "messages" / "notification-in-text-body.eml").read_bytes()
    message = BytesParser(policy=policy.default).parsebytes(raw)
    for name, value in (
        ("From", f"Rab Unknown <rab.unknown{number}@freemail.example>"),
        ("Message-ID", untrusted_message_id(number)),
    ):
        del message[name]
        message[name] = value
    return bytes(message)


def untrusted_message_id(number: int) -> str:
    return f"<2027010509{number:04d}.untrusted@freemail.example>"


@dataclass
class ConsoleSite:
    site: Site
    base_url: str
    sink: SmtpSink
    process: subprocess.Popen[bytes]

    def add_user(self, name: str, role: str, display_name: str) -> str:
        """A new account with PASSWORD set through its one-time link, as a person would."""
        made = self.site.cli("users", "add", name, "--role", role, "--display-name", display_name)
        assert made.code == 0, made.stderr
        link = made.stdout.strip().splitlines()[-1].strip()
        assert link.startswith(f"{self.base_url}/welcome/")
        form = urllib.parse.urlencode({"password": PASSWORD, "repeat": PASSWORD}).encode()
        request = urllib.request.Request(link, data=form, method="POST")
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            opener.open(request)
        except urllib.error.HTTPError as err:
            assert err.code == 303, err.code
        return name

    def query(self, sql: str, **params: Any) -> list[Any]:
        import sqlalchemy as sa

        db = self.site.database()
        try:
            with db.engine.connect() as connection:
                return list(connection.execute(sa.text(sql), params).all())
        finally:
            db.dispose()

    def execute(self, sql: str, **params: Any) -> None:
        import sqlalchemy as sa

        db = self.site.database()
        try:
            with db.engine.begin() as connection:
                connection.execute(sa.text(sql), params)
        finally:
            db.dispose()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture(scope="module")
def console_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp("console")
    port = free_port()
    with smtp_sink() as sink:
        site = Site(
            folder,
            f"sqlite:///{folder / 'var' / 'mappa.db'}",
            smtp=sink,
            settings={"console": {"port": port}},
        )
        for path in sorted((FIXTURES / "messages").glob("*.eml")):
            if path.name not in SLOW:
                site.deliver(path.read_bytes())
        site.deliver(xss_message())
        for number in (1, 2):
            site.deliver(untrusted_message(number))
        ran = site.run_once()
        assert ran.code == 0, ran.stderr
        process = site.start_console()
        base_url = f"http://127.0.0.1:{port}"
        try:
            yield ConsoleSite(site, base_url, sink, process)
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) per test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def log_in(page: Any, base_url: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


SCREENSHOTS = ROOT / "docs" / "screenshots"


def screenshot(page: Any, name: str) -> Path:
    """The page as the README shows it: written to docs/screenshots when MAPPA_SCREENSHOTS is
    set (``make screenshots``), else to a temporary folder (taken all the same, so a page that
    cannot be drawn fails the test)."""
    import os
    import tempfile

    folder = SCREENSHOTS if os.environ.get("MAPPA_SCREENSHOTS") else Path(tempfile.mkdtemp())
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 10_000
    return path
