"""Settings -> the values and objects the packages take. Each builder imports what it builds
when called, so a command loads only the packages it uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from app.settings import ConfigError, Settings
from parsers.limits import MIB, Limits

if TYPE_CHECKING:  # triage (and the holidays tables) load only for `check` and the daemon
    from console.settings import ConsoleSettings
    from intake.casework import CaseworkSettings
    from intake.entra import TokenSource
    from intake.mailbox import CursorStore, Mailbox
    from intake.screening import ScreeningPolicy
    from records.database import Database
    from records.sealing import Sealer
    from responders.settings import ReplySettings
    from responders.transport import Transport
    from triage.calendar import WorkingCalendar
    from triage.settings import TriageSettings

# Deadlines are counted in the Co-ordinator's days, whatever the server's zone.
LOCAL_ZONE = ZoneInfo("Europe/London")


def local_datetime(text: str) -> datetime:
    """A date or date-time given on the command line (--received, --now): ISO, local
    (Europe/London) unless it names its zone. Raises ValueError."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=LOCAL_ZONE)


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_file_bytes=int(settings["limits.max_file_mb"]) * MIB,
        max_pages=int(settings["limits.max_pages"]),
        max_decompressed_bytes=int(settings["limits.max_decompressed_mb"]) * MIB,
        max_compression_ratio=int(settings["limits.max_compression_ratio"]),
        max_seconds=float(settings["limits.max_seconds"]),
        max_mime_parts=int(settings["limits.max_mime_parts"]),
        max_ocr_pages=int(settings["limits.max_ocr_pages"]),
    )


def triage_from(settings: Settings) -> tuple[TriageSettings, WorkingCalendar]:
    from triage.calendar import WorkingCalendar
    from triage.settings import ReleaseRule, TriageSettings

    extra = tuple(date.fromisoformat(d) for d in settings["calendar.extra_holidays"])
    triage = TriageSettings(
        categories=tuple(settings["triage.categories"]),
        area_postcode_districts=tuple(settings["triage.area_postcode_districts"]),
        release_rule=ReleaseRule(settings["timescales.release_rule"]),
        extra_holidays=extra,
        t1_working_days=settings["timescales.t1_working_days"],
        t2_working_days=settings["timescales.t2_working_days"],
        t3_weeks=settings["timescales.t3_weeks"],
        t4_working_days=settings["timescales.t4_working_days"],
        t5_working_days=settings["timescales.t5_working_days"],
        t6_weeks=settings["timescales.t6_weeks"],
        t7_weeks=settings["timescales.t7_weeks"],
        t8_working_days=settings["timescales.t8_working_days"],
        t9_working_days=settings["timescales.t9_working_days"],
    )
    return triage, WorkingCalendar(extra_holidays=extra)


def database_url_from(settings: Settings) -> str:
    """The database URL, a relative SQLite path made relative to the configuration file."""
    url = str(settings["database.url"])
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        return prefix + str((settings.folder / url[len(prefix) :]).resolve())
    return url


def sealer_from(settings: Settings, environ: Mapping[str, str]) -> Sealer:
    """The keyring that seals stored mail: the key in force (``storage.key_env``), which
    seals, and the previous keys (``storage.previous_keys_env``), which still open."""
    from records.errors import SealError
    from records.sealing import Sealer, key_from_text, keys_from_text

    name = str(settings["storage.key_env"])
    text = environ.get(name)
    if not text:
        raise ConfigError(
            f"storage.key_env: environment variable {name} is not set"
            " (make one with: mappa-intake keys new)"
        )
    try:
        key = key_from_text(text)
    except SealError as err:
        raise ConfigError(f"storage.key_env: {name}: {err}") from err
    previous_name = str(settings["storage.previous_keys_env"])
    try:
        previous = keys_from_text(environ.get(previous_name, "") if previous_name else "")
    except SealError as err:
        raise ConfigError(f"storage.previous_keys_env: {previous_name}: {err}") from err
    return Sealer(key, previous)


def _secret(settings: Settings, environ: Mapping[str, str], key: str) -> Callable[[], str]:
    """The secret in the environment variable ``key`` names, read at each use (a token may
    have been renewed); the variable must be set at start."""
    variable = str(settings[key])
    if not environ.get(variable):
        raise ConfigError(f"{key}: environment variable {variable} is not set")
    return lambda: environ.get(variable, "")


def _optional_path(settings: Settings, key: str) -> Path | None:
    return settings.path(key) if settings[key] else None


def allowed_domains(settings: Settings) -> tuple[str, ...]:
    return tuple(d.lower() for d in settings["senders.allowed_domains"])


def our_address(settings: Settings) -> str:
    from email.utils import parseaddr

    address = parseaddr(str(settings["smtp.from"]))[1].lower()
    if "@" not in address:
        raise ConfigError("smtp.from: no e-mail address in it")
    return address


def screening_from(settings: Settings) -> ScreeningPolicy:
    from intake.automatic import OwnMail
    from intake.envelope import domain_of
    from intake.screening import ScreeningPolicy
    from intake.trust import TrustPolicy

    address = our_address(settings)
    return ScreeningPolicy(
        trust=TrustPolicy(
            allowed_domains=allowed_domains(settings),
            authserv_id=str(settings["senders.authserv_id"]),
            received_by=str(settings["senders.received_by"]),
        ),
        own=OwnMail(message_id_domain=domain_of(address), addresses=(address,)),
        max_message_bytes=int(settings["limits.max_message_mb"]) * MIB,
    )


def mailbox_from(
    settings: Settings, environ: Mapping[str, str], db: Database | None = None
) -> Mailbox:
    """The adapter for ``settings``' [mailbox] (one of ``settings.mailboxes()``); ``db`` keeps
    the cursor of the adapters that read a folder by its changes (graph, ews)."""
    from intake.errors import MailboxError

    kind = settings["mailbox.kind"]
    try:
        if kind == "maildir":
            from intake.maildir import MaildirMailbox

            return MaildirMailbox(
                settings.path("mailbox.path"),
                processed_folder=str(settings["mailbox.processed_folder"]),
                quarantine_folder=str(settings["mailbox.quarantine_folder"]),
            )
        if kind == "imap":
            return _imap_from(settings, environ)
        if db is None:
            raise ConfigError(f"mailbox.kind: {kind} keeps a cursor and needs the database")
        if kind == "graph":
            return _graph_from(settings, environ, db)
        return _ews_from(settings, environ, db)
    except MailboxError as err:
        raise ConfigError(str(err)) from err


def _address(settings: Settings) -> str:
    return str(settings["mailbox.address"] or settings["mailbox.username"])


def _cursor(db: Database, kind: str, settings: Settings) -> CursorStore:
    from records.cursors import DatabaseCursor

    return DatabaseCursor(db, f"{kind}:{_address(settings)}", str(settings["mailbox.folder"]))


# One Entra ID token source per tenant, application and resource in a process: the IMAP
# reader, the SMTP sender and the Sent-folder copier share a token rather than ask for three.
_TOKEN_SOURCES: dict[tuple[str, str, str, str], TokenSource] = {}

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
# IMAP, SMTP and EWS in Exchange Online take tokens for this resource.
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"


# The token source each mailbox logs in with (by the mailbox's name), for the daemon to note
# when its token runs out (``status``, /metrics).
_TOKENS_OF_MAILBOX: dict[str, TokenSource] = {}


def token_source_of(mailbox: str) -> TokenSource | None:
    return _TOKENS_OF_MAILBOX.get(mailbox)


def _logs_in_with(box: Mailbox, tokens: TokenSource | None) -> Mailbox:
    if tokens is not None:
        _TOKENS_OF_MAILBOX[box.name] = tokens
    return box


def entra_tokens(settings: Settings, environ: Mapping[str, str], scope: str) -> TokenSource:
    from intake.entra import EntraSettings, TokenSource

    entra = EntraSettings(
        tenant_id=str(settings["mailbox.tenant_id"]),
        client_id=str(settings["mailbox.client_id"]),
        authority_url=str(settings["mailbox.authority_url"]),
        ca_file=_optional_path(settings, "mailbox.ca_file"),
    )
    key = (entra.authority_url, entra.tenant_id, entra.client_id, scope)
    if key not in _TOKEN_SOURCES:
        secret = _secret(settings, environ, "mailbox.client_secret_env")
        _TOKEN_SOURCES[key] = TokenSource(entra, secret, (scope,))
    return _TOKEN_SOURCES[key]


def _imap_from(settings: Settings, environ: Mapping[str, str]) -> Mailbox:
    from intake.imap import ImapMailbox, ImapSettings

    auth = str(settings["mailbox.auth"])
    refused: Callable[[], None] = _nothing
    tokens: TokenSource | None = None
    if auth == "entra":
        tokens = entra_tokens(settings, environ, EXCHANGE_SCOPE)
        secret, refused = tokens.token, tokens.refused
    else:
        secret = _secret(
            settings, environ, "mailbox.password_env" if auth == "password" else "mailbox.token_env"
        )
    imap = ImapSettings(
        host=str(settings["mailbox.host"]),
        port=int(settings["mailbox.port"]),
        username=str(settings["mailbox.username"]),
        security=str(settings["mailbox.security"]),
        folder=str(settings["mailbox.folder"]),
        processed_folder=str(settings["mailbox.processed_folder"]),
        quarantine_folder=str(settings["mailbox.quarantine_folder"]),
        auth="password" if auth == "password" else "xoauth2",
        ca_file=_optional_path(settings, "mailbox.ca_file"),
    )
    return _logs_in_with(ImapMailbox(imap, secret, refused=refused), tokens)


def _graph_from(settings: Settings, environ: Mapping[str, str], db: Database) -> Mailbox:
    from intake.graph import GraphMailbox, GraphSettings

    graph = GraphSettings(
        user=_address(settings),
        folder=str(settings["mailbox.folder"]),
        processed_folder=str(settings["mailbox.processed_folder"]),
        quarantine_folder=str(settings["mailbox.quarantine_folder"]),
        graph_url=str(settings["mailbox.graph_url"]),
        ca_file=_optional_path(settings, "mailbox.ca_file"),
    )
    tokens = entra_tokens(settings, environ, GRAPH_SCOPE)
    return _logs_in_with(GraphMailbox(graph, tokens, _cursor(db, "graph", settings)), tokens)


def _ews_from(settings: Settings, environ: Mapping[str, str], db: Database) -> Mailbox:
    from urllib.parse import urlsplit

    from intake.ews import EwsMailbox, EwsSettings

    auth = str(settings["mailbox.auth"])
    refused: Callable[[], None] = _nothing
    tokens: TokenSource | None = None
    if auth == "entra":
        # A token for the EWS host itself: outlook.office365.com for Exchange Online, the
        # council's own host under hybrid modern authentication (docs/exchange-server.md).
        host = urlsplit(str(settings["mailbox.ews_url"])).hostname or ""
        tokens = entra_tokens(settings, environ, f"https://{host}/.default")
        secret, refused = tokens.token, tokens.refused
    else:
        secret = _secret(settings, environ, "mailbox.password_env")
    ews = EwsSettings(
        url=str(settings["mailbox.ews_url"]),
        username=str(settings["mailbox.username"]),
        primary_smtp_address=_address(settings),
        auth={"password": "ntlm", "basic": "basic", "entra": "oauth"}[auth],
        folder=str(settings["mailbox.folder"]),
        processed_folder=str(settings["mailbox.processed_folder"]),
        quarantine_folder=str(settings["mailbox.quarantine_folder"]),
        ca_file=_optional_path(settings, "mailbox.ca_file"),
    )
    box = EwsMailbox(ews, secret, _cursor(db, "ews", settings), refused=refused)
    return _logs_in_with(box, tokens)


def _nothing() -> None:
    return None


def _no_secret() -> str:
    return ""


def casework_from(settings: Settings) -> CaseworkSettings:
    from intake.casework import CaseworkSettings

    triage, calendar = triage_from(settings)
    return CaseworkSettings(
        limits=limits_from(settings), triage=triage, calendar=calendar, zone=LOCAL_ZONE
    )


def reply_settings_from(settings: Settings) -> ReplySettings:
    from intake.envelope import domain_of
    from responders.compose import Sender
    from responders.settings import ChaseSettings, ReplySettings

    address = our_address(settings)
    templates = settings.path("outgoing.templates") if settings["outgoing.templates"] else None
    if templates is not None and not templates.is_dir():
        raise ConfigError(f"outgoing.templates: {templates} is not a folder")
    return ReplySettings(
        sender=Sender(
            from_header=str(settings["smtp.from"]),
            message_id_domain=domain_of(address),
            marking=str(settings["outgoing.marking"]),
            allowed_domains=allowed_domains(settings),
        ),
        envelope_from=address,
        signature=str(settings["outgoing.signature"]),
        coordinator=str(settings["outgoing.coordinator"]),
        per_recipient_per_hour=int(settings["outgoing.per_recipient_per_hour"]),
        chase=ChaseSettings(
            first_after=int(settings["chase.first_working_days"]),
            second_after=int(settings["chase.second_working_days"]),
            escalate_after=int(settings["chase.escalation_working_days"]),
            send_hour=int(settings["chase.send_hour"]),
        ),
        zone=LOCAL_ZONE,
        templates=templates,
    )


def transport_from(settings: Settings, environ: Mapping[str, str]) -> Transport:
    if settings["outgoing.kind"] == "maildir":
        from responders.transport import MaildirTransport

        return MaildirTransport(settings.path("outgoing.path"))
    from responders.transport import SmtpSettings, SmtpTransport

    # No login, no password: a relay that trusts the host needs none.
    secret: Callable[[], str] = _no_secret
    refused: Callable[[], None] = _nothing
    if settings["smtp.username"] and settings["smtp.auth"] == "entra":
        tokens = entra_tokens(settings, environ, EXCHANGE_SCOPE)
        secret, refused = tokens.token, tokens.refused
    elif settings["smtp.username"]:
        secret = _secret(settings, environ, "smtp.password_env")
    smtp = SmtpSettings(
        host=str(settings["smtp.host"]),
        port=int(settings["smtp.port"]),
        security=str(settings["smtp.security"]),
        username=str(settings["smtp.username"]),
        ca_file=_optional_path(settings, "smtp.ca_file"),
        auth="xoauth2" if settings["smtp.auth"] == "entra" else "password",
    )
    try:
        return SmtpTransport(smtp, secret, refused)
    except ValueError as err:
        raise ConfigError(str(err)) from err


def console_settings_from(settings: Settings) -> ConsoleSettings:
    from datetime import timedelta

    from console.settings import ConsoleSettings

    return ConsoleSettings(
        host=str(settings["console.host"]),
        port=int(settings["console.port"]),
        public_url=str(settings["console.public_url"]),
        session_idle=timedelta(minutes=int(settings["console.session_idle_minutes"])),
        session_limit=timedelta(hours=int(settings["console.session_hours"])),
        lockout_failures=int(settings["console.lockout_failures"]),
        lockout=timedelta(minutes=int(settings["console.lockout_minutes"])),
        one_time_login=timedelta(hours=int(settings["console.one_time_login_hours"])),
        near_working_days=int(settings["deadlines.near_working_days"]),
    )
