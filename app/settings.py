"""Configuration as data: every setting declared once, with its default and its help.

Read once at start from one TOML file; domain code receives values, never reads the file or the
environment. A wrong or unknown key stops the program with one line naming it.
``mappa-intake config example`` prints this table as a commented file, and a test checks that
every setting here is documented in docs/configuration.md and read by the code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = Path("mappa-intake.toml")
LANARKSHIRE_DISTRICTS = (
    "ML1",
    "ML2",
    "ML3",
    "ML4",
    "ML5",
    "ML6",
    "ML7",
    "ML8",
    "ML9",
    "ML10",
    "ML11",
    "ML12",
    "G65",
    "G67",
    "G68",
    "G69",
    "G71",
    "G72",
    "G73",
    "G74",
    "G75",
)


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the key."""


@dataclass(frozen=True, slots=True)
class Setting:
    key: str  # "section.name"
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "limits.max_file_mb",
        25,
        "Largest document or message read, in MB; larger ones are refused unread.",
    ),
    Setting("limits.max_pages", 60, "Most pages read from one PDF."),
    Setting(
        "limits.max_decompressed_mb",
        100,
        "Most a Word package may expand to, in MB (ZIP bomb guard).",
    ),
    Setting(
        "limits.max_compression_ratio",
        200,
        "Largest expansion ratio of one Word package member (ZIP bomb guard).",
    ),
    Setting("limits.max_seconds", 60.0, "Longest time spent reading one document, in seconds."),
    Setting("limits.max_mime_parts", 200, "Most MIME parts walked in one e-mail."),
    Setting(
        "limits.max_message_mb",
        35,
        "Largest message taken, in MB; a larger one is stored and quarantined unread.",
    ),
    Setting("limits.max_ocr_pages", 10, "Most pages of a scan recognised with OCR."),
    Setting(
        "limits.max_memory_mb",
        4096,
        "Address-space cap of a parse or check process, in MB (0: no cap).",
    ),
    Setting(
        "triage.categories",
        ["RSO", "RP", "CAT3"],
        "MAPPA categories accepted; anything else is flagged (domain.md §2).",
    ),
    Setting(
        "triage.area_postcode_districts",
        list(LANARKSHIRE_DISTRICTS),
        "Postcode districts of the area; a person living elsewhere is proposed for redirect.",
    ),
    Setting(
        "calendar.extra_holidays",
        [],
        "Local holidays and closures (YYYY-MM-DD) on top of the Scottish bank holidays.",
    ),
    Setting(
        "timescales.release_rule",
        "s8_2023",
        "Release-day rule: s8_2023 (Bail and Release from Custody (Scotland) Act 2023 s.8)"
        " or pre_2023.",
    ),
    Setting("timescales.t1_working_days", 3, "T1: notification after a community disposal."),
    Setting(
        "timescales.t2_working_days", 5, "T2: referral after a notification proposing Level 2/3."
    ),
    Setting("timescales.t3_weeks", 12, "T3: SPS notification/referral before release, in weeks."),
    Setting("timescales.t4_working_days", 20, "T4: initial Level 2 meeting after the referral."),
    Setting("timescales.t5_working_days", 5, "T5: initial Level 3 meeting after the referral."),
    Setting("timescales.t6_weeks", 12, "T6: Level 2 reviews, in weeks."),
    Setting("timescales.t7_weeks", 6, "T7: Level 3 reviews, in weeks."),
    Setting("timescales.t8_working_days", 5, "T8: agencies' answers to information requests."),
    Setting("timescales.t9_working_days", 5, "T9: minutes circulated after a meeting."),
    Setting(
        "database.url",
        "sqlite:///var/mappa.db",
        "Where state lives: sqlite:///PATH (relative to the configuration file's folder)"
        " or postgresql+psycopg://USER@HOST/DB (password in PGPASSWORD or ~/.pgpass).",
    ),
    Setting("mailbox.kind", "maildir", "imap or maildir (a local Maildir, as the demo uses)."),
    Setting("mailbox.path", "var/mail/inbox", "maildir: the Maildir to read."),
    Setting("mailbox.host", "", "imap: the server's host name."),
    Setting("mailbox.port", 993, "imap: 993 for tls, 143 for starttls."),
    Setting(
        "mailbox.security",
        "tls",
        "imap: tls, starttls, or none (none only to a loopback host).",
    ),
    Setting("mailbox.ca_file", "", "imap: CA certificates to trust instead of the system's."),
    Setting("mailbox.username", "", "imap: the login name."),
    Setting("mailbox.auth", "password", "imap: password, or xoauth2 (an OAuth 2.0 token)."),
    Setting(
        "mailbox.password_env",
        "MAPPA_IMAP_PASSWORD",
        "imap: environment variable holding the password (auth = password).",
    ),
    Setting(
        "mailbox.token_env",
        "MAPPA_IMAP_TOKEN",
        "imap: environment variable holding the OAuth 2.0 access token (auth = xoauth2).",
    ),
    Setting("mailbox.folder", "INBOX", "Folder the forms arrive in."),
    Setting("mailbox.processed_folder", "Processed", "Folder taken mail is moved to."),
    Setting("mailbox.quarantine_folder", "Quarantine", "Folder quarantined mail is moved to."),
    Setting(
        "mailbox.sent_folder",
        "Sent",
        "Folder a copy of every message we send is filed in (empty: none is filed).",
    ),
    Setting(
        "mailbox.wait_seconds",
        60.0,
        "Longest wait between passes: an IMAP IDLE ends at once when mail arrives;"
        " a Maildir is polled this often.",
    ),
    Setting(
        "senders.allowed_domains",
        [
            "police.scot",
            "sps.gov.uk",
            "sps.pnn.gov.uk",
            "nhs.scot",
            "northlan.gov.uk",
            "southlanarkshire.gov.uk",
            "gov.scot",
            "cjsm.net",
        ],
        "Secure domains forms are taken from (their sub-domains too); all else is quarantined.",
    ),
    Setting(
        "senders.authserv_id",
        "mx.southlanarkshire.gov.uk",
        "Our receiving server's authserv-id: only its topmost Authentication-Results counts.",
    ),
    Setting(
        "outgoing.kind",
        "maildir",
        "How replies leave: smtp, or maildir (written to a local Maildir, as the demo does).",
    ),
    Setting("outgoing.path", "var/mail/outgoing", "maildir: the Maildir replies are written to."),
    Setting(
        "outgoing.marking",
        "OFFICIAL-SENSITIVE",
        "Protective marking put in the subject and at the top and foot of every message.",
    ),
    Setting(
        "outgoing.signature",
        "MAPPA Co-ordinator, Lanarkshire",
        "How every message is signed.",
    ),
    Setting(
        "outgoing.coordinator",
        "MAPPA Co-ordinator <mappa.coordinator@southlanarkshire.gov.uk>",
        "The Co-ordinator's own address: unanswered requests are escalated to it.",
    ),
    Setting(
        "outgoing.templates",
        "",
        "Folder of the operator's own reply templates, looked up before the built-in ones.",
    ),
    Setting(
        "outgoing.per_recipient_per_hour",
        20,
        "Most messages sent to one address in any hour; more wait their turn.",
    ),
    Setting("smtp.host", "", "smtp: the server's host name."),
    Setting("smtp.port", 587, "smtp: 587 for starttls, 465 for tls."),
    Setting(
        "smtp.security",
        "starttls",
        "smtp: tls, starttls, or none (none only to a loopback host).",
    ),
    Setting("smtp.ca_file", "", "smtp: CA certificates to trust instead of the system's."),
    Setting("smtp.username", "", "smtp: the login name (empty: no login)."),
    Setting(
        "smtp.password_env",
        "MAPPA_SMTP_PASSWORD",
        "smtp: environment variable holding the password.",
    ),
    Setting(
        "smtp.from",
        "MAPPA Lanarkshire <mappa.lanarkshire@southlanarkshire.gov.uk>",
        "Our address: replies come from it; mail from it, or with our Message-IDs, is our"
        " own coming back.",
    ),
    Setting(
        "chase.first_working_days",
        1,
        "First reminder: working days after the date the information was needed by (T8).",
    ),
    Setting("chase.second_working_days", 3, "Second reminder: working days after the first."),
    Setting(
        "chase.escalation_working_days",
        2,
        "Escalation to the Co-ordinator: working days after the second reminder.",
    ),
    Setting("chase.send_hour", 9, "Reminders due on a day go from this hour (local time)."),
    Setting(
        "deadlines.near_working_days",
        2,
        "A T1-T5 deadline this many working days away or fewer is flagged as near.",
    ),
    Setting(
        "console.host",
        "127.0.0.1",
        "Address the console listens on; put it behind the council's TLS proxy, never bare.",
    ),
    Setting("console.port", 8080, "Port the console listens on."),
    Setting(
        "console.public_url",
        "",
        "The console's address as users reach it (https://...), for one-time login links;"
        " empty: http://host:port.",
    ),
    Setting(
        "console.session_idle_minutes",
        30,
        "A console session left idle this long ends; the user logs in again.",
    ),
    Setting(
        "console.session_hours", 10, "A console session ends this long after login, idle or not."
    ),
    Setting(
        "console.lockout_failures",
        5,
        "Wrong passwords in a row that lock an account for console.lockout_minutes.",
    ),
    Setting("console.lockout_minutes", 15, "How long a locked account stays locked."),
    Setting(
        "console.one_time_login_hours",
        24,
        "How long a one-time login link (users add, users reset, the demo) stays valid.",
    ),
    Setting(
        "storage.key_env",
        "MAPPA_DATA_KEY",
        "Environment variable holding the base64 AES-256 key that seals stored mail.",
    ),
)
_BY_KEY = {s.key: s for s in SETTINGS}


def _check_type(key: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool) or isinstance(value, bool):
        if not isinstance(value, bool) or not isinstance(default, bool):
            raise ConfigError(f"{key}: expected {type(default).__name__}, got {value!r}")
        return value
    if isinstance(default, float) and isinstance(value, int | float):
        return float(value)
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected a list of strings")
        return value
    if not isinstance(value, type(default)):
        raise ConfigError(f"{key}: expected {type(default).__name__}, got {value!r}")
    return value


class Settings:
    """The settings in force: the file's values over the defaults."""

    def __init__(self, values: dict[str, Any], source: Path | None) -> None:
        self._values = values
        self.source = source

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    @property
    def folder(self) -> Path:
        """Relative paths in the file are relative to its folder (else to the current one)."""
        return self.source.parent if self.source is not None else Path()

    def path(self, key: str) -> Path:
        value = Path(str(self[key])).expanduser()
        return value if value.is_absolute() else self.folder / value


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


def load(path: Path | None, *, required: bool = False) -> Settings:
    """The settings from ``path`` (or ./mappa-intake.toml if present), else the defaults."""
    chosen = path if path is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    values = {s.key: s.default for s in SETTINGS}
    if chosen is None:
        return Settings(values, None)
    try:
        table = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{chosen}: cannot read configuration: {err.strerror or err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{chosen}: not valid TOML: {err}") from err
    for key, value in _flatten(table).items():
        setting = _BY_KEY.get(key)
        if setting is None:
            # Sections of later parts of the system (the console) are not ours to judge here.
            if key.split(".", 1)[0] in _OUR_SECTIONS:
                raise ConfigError(f"{chosen}: unknown setting {key}")
            continue
        values[key] = _check_type(key, value, setting.default)
    _validate(values)
    return Settings(values, chosen)


_OUR_SECTIONS = frozenset(s.key.split(".", 1)[0] for s in SETTINGS)


_CHOICES = {
    "timescales.release_rule": ("s8_2023", "pre_2023"),
    "mailbox.kind": ("imap", "maildir"),
    "mailbox.security": ("tls", "starttls", "none"),
    "mailbox.auth": ("password", "xoauth2"),
    "outgoing.kind": ("smtp", "maildir"),
    "smtp.security": ("tls", "starttls", "none"),
}


def _validate(values: dict[str, Any]) -> None:
    for key, choices in _CHOICES.items():
        if values[key] not in choices:
            raise ConfigError(f"{key}: must be one of {', '.join(choices)}")
    if values["mailbox.kind"] == "imap" and not (
        values["mailbox.host"] and values["mailbox.username"]
    ):
        raise ConfigError("mailbox.host and mailbox.username: required when mailbox.kind is imap")
    if values["outgoing.kind"] == "smtp" and not values["smtp.host"]:
        raise ConfigError("smtp.host: required when outgoing.kind is smtp")
    if not 0 <= values["chase.send_hour"] <= 23:
        raise ConfigError("chase.send_hour: must be an hour from 0 to 23")
    for key in (
        "console.session_idle_minutes",
        "console.session_hours",
        "console.lockout_failures",
    ):
        if values[key] < 1:
            raise ConfigError(f"{key}: must be at least 1")
    if values["outgoing.per_recipient_per_hour"] < 1:
        raise ConfigError("outgoing.per_recipient_per_hour: must be at least 1")
    url = str(values["database.url"])
    if not url.startswith(("sqlite:///", "postgresql")):
        raise ConfigError("database.url: must start with sqlite:/// or postgresql")
    for text in values["calendar.extra_holidays"]:
        try:
            date.fromisoformat(text)
        except ValueError as err:
            raise ConfigError(
                f"calendar.extra_holidays: {text!r} is not a YYYY-MM-DD date"
            ) from err
    for key, value in values.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            raise ConfigError(f"{key}: must not be negative")


def example() -> str:
    """A complete, commented configuration file with every default."""
    lines = ["# mappa-intake configuration. Every setting is shown with its default.", ""]
    section = ""
    for setting in SETTINGS:
        head, name = setting.key.split(".", 1)
        if head != section:
            lines.extend(["", f"[{head}]"])
            section = head
        lines.append(f"# {setting.help}")
        lines.append(f"{name} = {_toml(setting.default)}")
    return "\n".join(lines).strip() + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)
