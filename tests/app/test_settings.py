"""Configuration as data: every setting documented and read; bad files stop with the key."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from app.settings import SETTINGS, ConfigError, example, load
from tests.conftest import ROOT, Run
from tests.intake.site import Site

CODE_DIRS = ("app", "parsers", "triage", "intake", "records", "console")


def test_every_setting_is_documented() -> None:
    reference = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_0-9]+\.[a-z_0-9]+)` \|", reference, re.M))
    declared = {s.key for s in SETTINGS}
    assert declared - documented == set(), "settings missing from docs/configuration.md"
    assert documented - declared == set(), "documented settings the code does not declare"


def test_every_setting_is_read_by_the_code() -> None:
    code = "".join(
        p.read_text()
        for d in CODE_DIRS
        for p in (ROOT / d).rglob("*.py")
        if p.name != "settings.py"
    )
    unread = [s.key for s in SETTINGS if f'"{s.key}"' not in code]
    assert unread == []


def test_example_is_valid_and_complete(tmp_path: Path) -> None:
    path = tmp_path / "mappa-intake.toml"
    path.write_text(example())
    settings = load(path)
    for setting in SETTINGS:
        assert settings[setting.key] == setting.default


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[limits]\nmax_pages = 'ten'\n", "limits.max_pages"),
        ("[limits]\nmax_pagez = 10\n", "limits.max_pagez"),
        ("[timescales]\nrelease_rule = 'whenever'\n", "timescales.release_rule"),
        ("[mailbox]\nkind = 'pigeon'\n", "mailbox.kind"),
        ("[mailbox]\nkind = 'imap'\n", "mailbox.host"),
        ("[database]\nurl = 'mysql://x'\n", "database.url"),
        ("[calendar]\nextra_holidays = ['2026-13-01']\n", "calendar.extra_holidays"),
        ("[limits]\nmax_seconds = -1\n", "limits.max_seconds"),
        ("[mailbox]\nkind = 'graph'\naddress = 'a@b'\n", "mailbox.tenant_id"),
        ("[mailbox]\nkind = 'ews'\nusername = 'u'\n", "mailbox.ews_url"),
        ("[mailbox]\nkind = 'maildir'\nauth = 'entra'\n", "mailbox.auth"),
        ("[smtp]\nauth = 'entra'\n", "smtp.auth"),
        ("[[mailboxes]]\nhots = 'x'\n", "mailboxes[0].hots"),
        ("[[mailboxes]]\nkind = 'imap'\nhost = 'h'\n", "mailboxes.username"),
        ("[[mailboxes]]\nport = 'nine'\n", "mailboxes[0].port"),
    ],
    ids=[
        "wrong type",
        "unknown key",
        "bad choice",
        "unknown mailbox kind",
        "imap without a host",
        "unsupported database",
        "bad date",
        "negative",
        "graph without a tenant",
        "ews without its url",
        "a login the kind has not",
        "smtp entra without a tenant",
        "unknown key of a further mailbox",
        "further imap mailbox without a login name",
        "wrong type in a further mailbox",
    ],
)
def test_wrong_setting_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(key)):
        load(path)


def test_cli_stops_with_one_line_on_bad_config(cli: Callable[..., Run], tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[limits]\nmax_pages = 'ten'\n")
    form = tmp_path / "form.txt"
    form.write_text("MAPPA Notification Form\nSurname: TESTER\n")
    result = cli("parse", form, "--config", config)
    assert result.code == 2
    assert result.stderr.count("\n") == 1 and "limits.max_pages" in result.stderr


def test_config_example_command(cli: Callable[..., Run]) -> None:
    result = cli("config", "example")
    assert result.code == 0
    assert "[timescales]" in result.stdout and "release_rule" in result.stdout


def test_further_mailboxes_take_the_first_ones_values(tmp_path: Path) -> None:
    path = tmp_path / "two.toml"
    path.write_text(
        "[mailbox]\nkind = 'imap'\nhost = 'imap.example.gov.uk'\nusername = 'mappa.south'\n"
        "[[mailboxes]]\nusername = 'mappa.north'\npassword_env = 'NORTH_PASSWORD'\n"
    )
    south, north = load(path).mailboxes()
    assert (south["mailbox.username"], north["mailbox.username"]) == ("mappa.south", "mappa.north")
    assert north["mailbox.host"] == "imap.example.gov.uk"
    assert (south["mailbox.password_env"], north["mailbox.password_env"]) == (
        "MAPPA_IMAP_PASSWORD",
        "NORTH_PASSWORD",
    )


def test_one_mailbox_configured_twice_is_refused(tmp_path: Path) -> None:
    site = Site(tmp_path, f"sqlite:///{tmp_path / 'mappa.db'}")
    site.config.write_text(site.config.read_text() + "[[mailboxes]]\npath = 'var/mail/inbox'\n")
    result = site.run_once()
    assert result.code == 2
    assert "configured more than once" in result.stderr and result.stderr.count("\n") == 1
