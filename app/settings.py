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
    Setting(
        "mailbox.kind",
        "maildir",
        "imap, graph (Exchange Online through Microsoft Graph), ews (Exchange Server),"
        " or maildir (a local Maildir, as the demo uses).",
    ),
    Setting("mailbox.path", "var/mail/inbox", "maildir: the Maildir to read."),
    Setting("mailbox.host", "", "imap: the server's host name."),
    Setting("mailbox.port", 993, "imap: 993 for tls, 143 for starttls."),
    Setting(
        "mailbox.security",
        "tls",
        "imap: tls, starttls, or none (none only to a loopback host).",
    ),
    Setting(
        "mailbox.ca_file",
        "",
        "imap, graph, ews: CA certificates to trust instead of the system's.",
    ),
    Setting("mailbox.username", "", "imap, ews: the login name."),
    Setting(
        "mailbox.address",
        "",
        "graph, ews: the mailbox's e-mail address (empty: mailbox.username).",
    ),
    Setting(
        "mailbox.auth",
        "password",
        "imap: password, xoauth2 (a token from mailbox.token_env) or entra (an app-only"
        " token from Microsoft Entra ID, SASL XOAUTH2); ews: password (NTLM), basic or"
        " entra; graph: always entra.",
    ),
    Setting(
        "mailbox.password_env",
        "MAPPA_IMAP_PASSWORD",
        "imap, ews: environment variable holding the password (auth = password or basic).",
    ),
    Setting(
        "mailbox.token_env",
        "MAPPA_IMAP_TOKEN",
        "imap: environment variable holding an OAuth 2.0 access token (auth = xoauth2).",
    ),
    Setting("mailbox.ews_url", "", "ews: the EWS endpoint, https://HOST/EWS/Exchange.asmx."),
    Setting("mailbox.tenant_id", "", "entra: the council's Microsoft Entra ID tenant (GUID)."),
    Setting("mailbox.client_id", "", "entra: the application (client) id registered for us."),
    Setting(
        "mailbox.client_secret_env",
        "MAPPA_ENTRA_SECRET",
        "entra: environment variable holding the application's client secret.",
    ),
    Setting(
        "mailbox.authority_url",
        "https://login.microsoftonline.com",
        "entra: the Entra ID authority (another for a national cloud).",
    ),
    Setting(
        "mailbox.graph_url",
        "https://graph.microsoft.com/v1.0",
        "graph: the Microsoft Graph endpoint (another for a national cloud).",
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
        "senders.received_by",
        "own-server",
        "Who receives our mail from the internet: own-server (its header names"
        " senders.authserv_id) or exchange-online (the topmost header, which Exchange Online"
        " writes without an authserv-id; mail marked internal by Exchange is trusted too)."
        " See exchange-online.md.",
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
        "smtp.auth",
        "password",
        "smtp: password, or entra (SASL XOAUTH2 with an app-only token from Microsoft Entra"
        " ID, with the tenant and application of [mailbox]).",
    ),
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
        "alerts.to",
        "",
        "The operator's address alert e-mails go to (empty: none is sent); it must be inside"
        " senders.allowed_domains like every message of ours.",
    ),
    Setting(
        "alerts.mailbox_stale_minutes",
        15.0,
        "Alert when a mailbox has not been read successfully for this long (minutes; also"
        " the daemon's /healthz limit).",
    ),
    Setting(
        "alerts.silent_working_hours",
        16.0,
        "Alert when no mail at all has arrived in a mailbox for this many office hours of"
        " working days (0: not watched).",
    ),
    Setting(
        "alerts.working_hours",
        "09:00-17:00",
        "Office hours (local time, HH:MM-HH:MM) of Scottish working days that count towards"
        " alerts.silent_working_hours.",
    ),
    Setting(
        "health.host",
        "127.0.0.1",
        "Address the daemon serves /metrics and /healthz on (keep it loopback or internal).",
    ),
    Setting("health.port", 9464, "Port of /metrics and /healthz (0: not served)."),
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
    Setting(
        "storage.previous_keys_env",
        "MAPPA_DATA_KEY_PREVIOUS",
        "Environment variable holding previous keys (base64, separated by commas or spaces):"
        " they still open stored mail, never seal it; unset or empty: none. Used while"
        " `keys rotate` re-seals (docs/operations.md).",
    ),
    Setting(
        "retention.closed_case_days",
        90,
        "Days after a case was closed (or last changed) that its stored raw messages,"
        " attachments and reply copies are removed; the case and its fields stay (0: never).",
    ),
    Setting(
        "retention.decided_case_days",
        365,
        "Days after a decided case last changed (a decision, mail landing on it) that its"
        " stored messages, attachments and reply copies are removed (0: never).",
    ),
    Setting(
        "retention.quarantine_days",
        30,
        "Days a quarantined message is held before its stored copy is removed (its entry"
        " becomes deleted); also how long our reply about it is kept after it is dealt with"
        " (0: never).",
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

    def __init__(
        self,
        values: dict[str, Any],
        source: Path | None,
        extra_mailboxes: tuple[dict[str, Any], ...] = (),
    ) -> None:
        self._values = values
        self.source = source
        self._extra_mailboxes = extra_mailboxes

    def mailboxes(self) -> list[Settings]:
        """One Settings per mailbox to read: ``[mailbox]``, then each ``[[mailboxes]]`` table,
        whose keys are ``mailbox.*`` names over ``[mailbox]``'s values."""
        return [self] + [
            Settings({**self._values, **extra}, self.source) for extra in self._extra_mailboxes
        ]

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
    extra_mailboxes = tuple(
        _extra_mailbox(chosen, i, t) for i, t in enumerate(_tables(table.pop("mailboxes", [])))
    )
    for key, value in _flatten(table).items():
        setting = _BY_KEY.get(key)
        if setting is None:
            # Sections of later parts of the system (the console) are not ours to judge here.
            if key.split(".", 1)[0] in _OUR_SECTIONS:
                raise ConfigError(f"{chosen}: unknown setting {key}")
            continue
        values[key] = _check_type(key, value, setting.default)
    _validate(values)
    for extra in extra_mailboxes:
        _validate_mailbox({**values, **extra}, "mailboxes")
    return Settings(values, chosen, extra_mailboxes)


def _tables(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ConfigError("mailboxes: expected [[mailboxes]] tables")
    return value


def _extra_mailbox(source: Path, index: int, table: dict[str, Any]) -> dict[str, Any]:
    """A ``[[mailboxes]]`` table as ``mailbox.*`` values, each checked like its [mailbox] key."""
    values: dict[str, Any] = {}
    for name, value in table.items():
        key = f"mailbox.{name}"
        setting = _BY_KEY.get(key)
        if setting is None:
            raise ConfigError(f"{source}: unknown setting mailboxes[{index}].{name}")
        values[key] = _check_type(f"mailboxes[{index}].{name}", value, setting.default)
    return values


_OUR_SECTIONS = frozenset(s.key.split(".", 1)[0] for s in SETTINGS)


_CHOICES = {
    "timescales.release_rule": ("s8_2023", "pre_2023"),
    "mailbox.kind": ("imap", "graph", "ews", "maildir"),
    "mailbox.security": ("tls", "starttls", "none"),
    "mailbox.auth": ("password", "xoauth2", "entra", "basic"),
    "smtp.auth": ("password", "entra"),
    "outgoing.kind": ("smtp", "maildir"),
    "smtp.security": ("tls", "starttls", "none"),
    "senders.received_by": ("own-server", "exchange-online"),
}


def _validate(values: dict[str, Any]) -> None:
    for key, choices in _CHOICES.items():
        if values[key] not in choices:
            raise ConfigError(f"{key}: must be one of {', '.join(choices)}")
    _validate_mailbox(values, "mailbox")
    if values["smtp.auth"] == "entra" and not (
        values["mailbox.tenant_id"] and values["mailbox.client_id"]
    ):
        raise ConfigError("smtp.auth: entra needs mailbox.tenant_id and mailbox.client_id")
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


# What each kind of mailbox needs, and the logins it can use.
_MAILBOX_NEEDS = {
    "imap": (("host", "username"), ("password", "xoauth2", "entra")),
    "ews": (("ews_url", "username"), ("password", "basic", "entra")),
    "graph": (("tenant_id", "client_id"), ("password", "entra")),  # always entra
    "maildir": (("path",), ("password",)),
}


def _validate_mailbox(values: dict[str, Any], table: str) -> None:
    kind = values["mailbox.kind"]
    if kind not in _MAILBOX_NEEDS:
        raise ConfigError(f"{table}.kind: must be one of {', '.join(_MAILBOX_NEEDS)}")
    needed, logins = _MAILBOX_NEEDS[kind]
    if kind == "graph" and not (values["mailbox.address"] or values["mailbox.username"]):
        raise ConfigError(f"{table}.address: required when kind is graph")
    auth = values["mailbox.auth"]
    if auth not in logins:
        raise ConfigError(f"{table}.auth: {auth} is not a login of kind {kind}")
    if auth == "entra":
        needed = (*needed, "tenant_id", "client_id")
    for name in needed:
        if not values[f"mailbox.{name}"]:
            raise ConfigError(f"{table}.{name}: required when kind is {kind} (auth {auth})")


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
