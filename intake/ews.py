"""An on-premises Exchange Server mailbox through Exchange Web Services (EWS), with exchangelib.

* **Endpoint**: the EWS URL is configured (``https://mail.example.gov.uk/EWS/Exchange.asmx``);
  there is no autodiscover. The server's version can be pinned (``version``); if not,
  exchangelib asks the server once per connection.
* **Security**: HTTPS, the certificate verified against the system's CA store or the
  operator's CA file (``ca_file``); plain HTTP only to a loopback host, as for IMAP. The CA
  file is given to requests per endpoint by ``_OperatorCaAdapter``, exchangelib's documented
  hook (its ``HTTP_ADAPTER_CLS``); verification is never turned off.
* **Login**: NTLM or Basic with the service account's password, or an OAuth 2.0 bearer token
  (Exchange hybrid modern authentication). A refused login is told to ``refused()`` (a token
  source then fetches a new token) and tried once more with a fresh ``secret()``; a password
  is tried again only if it has changed, since an account lockout policy counts every try.
* **Listing**: SyncFolderItems. Its sync state and the ids in the folder (with their delivery
  times) are the cursor, kept through ``CursorStore``: a restart goes on from the sync state
  (only what changed since), not a full listing, and still lists every message in the folder
  (the worker takes a message missing from a listing for one that has left). A sync state the
  server no longer accepts (ErrorInvalidSyncStateData) is dropped and the folder listed afresh.
* **Waiting**: SyncFolderItems polled every ``poll_seconds``. EWS streaming notifications
  would wake us sooner, but need a subscription kept alive across connection drops and
  server restarts; a ten-second poll is ample for forms that have days to be answered.
* **Moving**: MoveItem, only for messages still in the watched folder: one a colleague
  deleted or moved elsewhere is passed over, never brought back.
* **Throttling**: ErrorServerBusy is waited out as its BackOffMilliseconds says, a few times
  and briefly (``MAX_BUSY_TRIES``, ``MAX_BUSY_WAIT_SECONDS``); beyond that the call fails as
  "throttled" and the daemon's own pause takes over. exchangelib's own retry policy is
  ``FailFast``: its fault-tolerant policy would sleep up to an hour inside a call, deaf to a
  stop request.

Every library error is translated here into ``MailboxError`` (``MailboxAuthError`` for a
refused login), naming the mailbox and what was being done, never a secret or mail content.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import requests.adapters
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    OAUTH2,
    Account,
    Configuration,
    Credentials,
    ExtendedProperty,
    FailFast,
    Folder,
    Message,
    OAuth2AuthorizationCodeCredentials,
    Version,
)
from exchangelib.errors import (
    CASError,
    ErrorAccessDenied,
    ErrorFolderExists,
    ErrorFolderNotFound,
    ErrorImpersonateUserDenied,
    ErrorImpersonationDenied,
    ErrorInvalidIdMalformed,
    ErrorInvalidSyncStateData,
    ErrorItemNotFound,
    ErrorServerBusy,
    EWSError,
    MalformedResponseError,
    ResponseMessageError,
    SOAPError,
    UnauthorizedError,
)
from exchangelib.ewsdatetime import UTC as EWS_UTC
from exchangelib.items import ID_ONLY
from exchangelib.properties import ItemId
from exchangelib.protocol import BaseProtocol, Protocol
from exchangelib.services import CreateFolder, SyncFolderItems
from exchangelib.services.sync_folder_hierarchy import SyncFolder
from exchangelib.util import MNS
from exchangelib.version import EXCHANGE_2013, EXCHANGE_2013_SP1, EXCHANGE_2016, EXCHANGE_2019

from intake.errors import MailboxAuthError, MailboxError
from intake.feedcursor import CursorKeeper, FeedCursor
from intake.imap import is_loopback
from intake.mailbox import CursorStore, Destination, Fetched, FolderSnapshot

log = logging.getLogger(__name__)

T = TypeVar("T")

# EWS item ids stay the same while an item stays in its folder (a move gives it a new id),
# and the sync state, not a folder number, says what changed: nothing is ever renumbered.
EWS_UIDVALIDITY = 1
# How often a wait asks SyncFolderItems for news: 6 cheap calls a minute, far inside
# Exchange's default EWS throttling budget.
POLL_SECONDS = 10.0
STOP_CHECK_SECONDS = 1.0
# Changes per SyncFolderItems call: 512 is the most EWS allows.
SYNC_PAGE = 512
# ErrorServerBusy: waits inside one call, each no longer than this; longer asks fail the call.
MAX_BUSY_TRIES = 3
MAX_BUSY_WAIT_SECONDS = 30.0
# PR_MESSAGE_FLAGS (PidTagMessageFlags, 0x0E07): MSGFLAG_READ alone. Set when an item is
# created, it marks the copy read and sent, not an unsent draft (MS-OXCMSG 2.2.1.6).
MSGFLAG_READ = 0x1

AUTH_TYPES = {"ntlm": NTLM, "basic": BASIC, "oauth": OAUTH2}
# Pinned server versions an operator may name (the RequestServerVersion the server gets).
VERSIONS = {
    "Exchange2013": EXCHANGE_2013,
    "Exchange2013_SP1": EXCHANGE_2013_SP1,
    "Exchange2016": EXCHANGE_2016,
    "Exchange2019": EXCHANGE_2019,
}
# The Sent folder is asked for by its distinguished id: its display name is localised.
SENT_NAMES = frozenset({"sent", "sent items", "sentitems"})
# Answers that mean the credential (or the account's right to the mailbox) was refused.
_REFUSALS: tuple[type[Exception], ...] = (
    UnauthorizedError,
    ErrorAccessDenied,
    ErrorImpersonateUserDenied,
    ErrorImpersonationDenied,
)
# Everything the library raises for a server, network or TLS failure.
_FAILURES: tuple[type[Exception], ...] = (
    EWSError,
    requests.RequestException,
    OSError,
)
_MAX_REASON = 200


@dataclass(frozen=True, slots=True)
class EwsSettings:
    url: str  # the EWS endpoint: https://mail.example.gov.uk/EWS/Exchange.asmx
    username: str  # the service account: DOMAIN\name or name@domain
    primary_smtp_address: str  # the mailbox read
    auth: str = "ntlm"  # "ntlm" | "basic" | "oauth"
    folder: str = "Inbox"  # "Inbox", or a path of display names: "Inbox/MAPPA"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    ca_file: Path | None = None  # CA certificates to trust instead of the system's
    version: str = ""  # "Exchange2016" etc.; empty: exchangelib asks the server
    impersonation: bool = False  # ApplicationImpersonation instead of FullAccess (delegate)
    poll_seconds: float = POLL_SECONDS


def settings_problem(settings: EwsSettings) -> str | None:
    """Why these settings cannot be used, or None."""
    parts = urlsplit(settings.url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        return f"url {settings.url!r} is not an https:// address"
    if parts.scheme == "http" and not is_loopback(host):
        return f"plain http is allowed only to a loopback host, not {host}"
    if parts.username or parts.password:
        return "url must not carry a user name or password"
    if settings.auth not in AUTH_TYPES:
        return f"auth {settings.auth!r} is not ntlm, basic or oauth"
    if settings.auth == "oauth" and parts.scheme != "https":
        return "auth oauth needs https: a bearer token is never sent in the clear"
    if settings.version and settings.version not in VERSIONS:
        return f"version {settings.version!r} is not one of {', '.join(VERSIONS)}"
    if "@" not in settings.primary_smtp_address:
        return f"address {settings.primary_smtp_address!r} is not an e-mail address"
    if settings.ca_file is not None and not settings.ca_file.is_file():
        return f"ca_file {settings.ca_file} is not a file"
    if not any(p.strip() for p in settings.folder.split("/")):
        return "folder is empty"
    if not settings.poll_seconds > 0:
        return f"poll_seconds {settings.poll_seconds} is not a positive number of seconds"
    return None


# -- TLS: the operator's CA file, per endpoint -------------------------------------------------

_TRUSTED: dict[tuple[str, str, int], str] = {}  # (scheme, host, port) -> CA file
_TRUSTED_LOCK = threading.Lock()


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


class _OperatorCaAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, verifying an endpoint that has a CA file of the operator's against
    that file (others as requests always does). exchangelib builds its sessions with one
    adapter class for the whole process (``BaseProtocol.HTTP_ADAPTER_CLS``), so the CA file
    is looked up by the request's origin. ``verify`` is replaced before the connection pool
    is chosen: the pool's TLS settings and the check agree."""

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        if request.url:
            with _TRUSTED_LOCK:
                ca_file = _TRUSTED.get(_origin(request.url))
            if ca_file is not None:
                verify = ca_file
        return super().send(
            request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
        )


def _trust_ca_file(url: str, ca_file: Path | None) -> None:
    """Verify ``url``'s origin against ``ca_file`` from now on (None: the system's store).
    One CA file per endpoint in a process: the adapter made last for it decides."""
    with _TRUSTED_LOCK:
        if ca_file is None:
            _TRUSTED.pop(_origin(url), None)
            return
        installed = BaseProtocol.HTTP_ADAPTER_CLS
        if installed is not _OperatorCaAdapter:
            if installed is not requests.adapters.HTTPAdapter:
                raise MailboxError(
                    f"cannot use ca_file {ca_file}: exchangelib has another HTTP adapter "
                    f"({installed.__name__}) installed in this process"
                )
            BaseProtocol.HTTP_ADAPTER_CLS = _OperatorCaAdapter
        _TRUSTED[_origin(url)] = str(ca_file)


# -- logs --------------------------------------------------------------------------------------


class _WithholdRequestBodies(logging.Filter):
    """exchangelib logs an unexpected HTTP failure at ERROR with the request's XML, which may
    hold a message (a filed copy's MIME) or the mailbox's folder names: keep the error, drop
    the XML."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            record.levelno >= logging.ERROR
            and isinstance(args, tuple)
            and len(args) > 2
            and "Request XML" in str(args[-1])
        ):
            record.msg = "%s: %s (request details withheld)"
            record.args = args[:2]
        return True


logging.getLogger("exchangelib.util").addFilter(_WithholdRequestBodies())


# -- exchangelib's objects ---------------------------------------------------------------------


class _MessageFlags(ExtendedProperty):  # type: ignore[misc]
    property_tag = 0x0E07
    property_type = "Integer"


class _FiledCopy(Message):  # type: ignore[misc]
    """A message created from MIME with PR_MESSAGE_FLAGS. A class of its own, with its own
    field list, so exchangelib's Message (shared by the whole process) is left as it is."""

    FIELDS = Message.FIELDS.copy()


_FiledCopy.register("message_flags", _MessageFlags)


class _PasswordCredentials(Credentials):  # type: ignore[misc]
    """exchangelib keeps one connection pool per (endpoint, credentials) for the whole
    process; ``owner`` gives each adapter a pool of its own, closed when it closes."""

    def __init__(self, owner: str, username: str, password: str) -> None:
        super().__init__(username, password)
        self.owner = owner


class _BearerCredentials(OAuth2AuthorizationCodeCredentials):  # type: ignore[misc]
    """A bearer token got elsewhere (msal): exchangelib only sends it. No ``expires_in`` is
    given, so exchangelib never judges it expired itself: the server's 401 says so."""

    def __init__(self, owner: str, token: str) -> None:
        super().__init__(access_token={"access_token": token, "token_type": "Bearer"})
        self.owner = owner


@dataclass(slots=True)
class _Session:
    account: Any
    watched: Any  # the folders, as exchangelib objects
    targets: dict[Destination, Any]
    filing: dict[str, Any] = field(default_factory=dict)  # keep_copy folders, by name


class EwsMailbox:
    """One mailbox folder over EWS. Not shared between threads: the intake worker and the
    sender each make their own (exchangelib gives each its own connection pool)."""

    def __init__(
        self,
        settings: EwsSettings,
        secret: Callable[[], str],
        cursor: CursorStore,
        refused: Callable[[], None] = lambda: None,
    ) -> None:
        problem = settings_problem(settings)
        if problem:
            raise MailboxError(f"mailbox.{problem}")
        _trust_ca_file(settings.url, settings.ca_file)
        self.settings = settings
        self._secret = secret  # the password or token, read at each login: it may be new
        self._refused = refused  # told when a token was refused: the next one is new
        self._cursor = CursorKeeper(cursor)
        self._owner = uuid.uuid4().hex
        self._session: _Session | None = None
        self._secret_used = ""  # the secret of the current login, to see whether it changed
        self._listed: set[str] | None = None  # the ids of the last snapshot

    @property
    def name(self) -> str:
        return f"ews://{self.settings.primary_smtp_address}@{urlsplit(self.settings.url).netloc}"

    @property
    def folder(self) -> str:
        return self.settings.folder

    def _where(self, uid: str | None = None) -> str:
        place = f"mailbox {self.name}/{self.settings.folder}"
        return place if uid is None else f"{place} id {uid}"

    # -- connection --------------------------------------------------------------------------

    def connect(self) -> None:
        """Log in and find the folders (creating Processed and Quarantine if need be)."""
        self._call("cannot connect", lambda session: None)

    def close(self) -> None:
        self._drop()

    def _opened(self) -> _Session:
        if self._session is None:
            self._session = self._open()
        return self._session

    def _open(self) -> _Session:
        account = self._account()
        try:
            root = account.msg_folder_root
            return _Session(
                account=account,
                watched=self._watched_folder(account),
                targets={
                    Destination.PROCESSED: self._folder_at(root, self.settings.processed_folder),
                    Destination.QUARANTINE: self._folder_at(root, self.settings.quarantine_folder),
                },
            )
        except BaseException:
            _dispose(account)
            raise

    def _account(self) -> Any:
        s = self.settings
        self._secret_used = self._secret()
        if s.auth == "oauth":
            credentials: Any = _BearerCredentials(self._owner, self._secret_used)
        else:
            credentials = _PasswordCredentials(self._owner, s.username, self._secret_used)
        config = Configuration(
            service_endpoint=s.url,
            credentials=credentials,
            auth_type=AUTH_TYPES[s.auth],
            version=Version(build=VERSIONS[s.version]) if s.version else None,
            retry_policy=FailFast(),
            max_connections=1,
        )
        return Account(
            primary_smtp_address=s.primary_smtp_address,
            config=config,
            autodiscover=False,
            access_type=IMPERSONATION if s.impersonation else DELEGATE,
            default_timezone=EWS_UTC,
        )

    def _watched_folder(self, account: Any) -> Any:
        parts = _parts(self.settings.folder)
        if parts[0].casefold() == "inbox":
            return self._folder_at(account.inbox, "/".join(parts[1:]), create=False)
        return self._folder_at(account.msg_folder_root, self.settings.folder, create=False)

    def _drop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            _dispose(session.account)

    # -- the Mailbox protocol ----------------------------------------------------------------

    def snapshot(self) -> FolderSnapshot:
        """Every message in the watched folder, oldest first. ``uidvalidity`` is a constant:
        an EWS item id names one message for as long as it stays in the folder (moved away
        and back, it has a new id: to the ledger a new place, where its bytes and Message-ID
        find the existing row), and the sync state takes the place of UIDVALIDITY in telling
        what changed, so there is no renumbering to announce."""
        listing = self._sync().listing()
        self._listed = set(listing)
        return FolderSnapshot(EWS_UIDVALIDITY, listing)

    def fetch(self, uid: str) -> Fetched | None:
        def read(session: _Session) -> Any:
            fields = ["mime_content", "datetime_received", "parent_folder_id"]
            [found] = session.account.fetch(
                ids=[ItemId(uid)], folder=session.watched, only_fields=fields
            )
            if isinstance(found, (ErrorItemNotFound, ErrorInvalidIdMalformed)):
                return None
            if isinstance(found, Exception):
                raise found
            return found if _in_folder(found, session.watched) else None

        item = self._call("cannot fetch", read, uid)
        if item is None or not item.mime_content:
            self._forget([uid])  # deleted, or moved away by someone else since the listing
            return None
        return Fetched(bytes(item.mime_content), _aware(item.datetime_received))

    def move(self, uids: Sequence[str], destination: Destination) -> None:
        """Move each message still in the watched folder; one deleted, or moved elsewhere by
        a colleague, since the listing is passed over (never brought back). Between the look
        and the move there is one request's time for someone to move it first."""
        if not uids:
            return
        target_name = self._target_name(destination)

        def move_here(session: _Session) -> None:
            here = self._still_here(session, uids)
            if not here:
                return
            results = session.account.bulk_move(
                ids=[ItemId(uid) for uid in here], to_folder=session.targets[destination]
            )
            for result in results:
                if isinstance(result, Exception) and not isinstance(result, ErrorItemNotFound):
                    raise result

        self._call(f"cannot move to {target_name}", move_here, ",".join(uids))
        self._forget(uids)

    def keep_copy(self, folder: str, raw: bytes, message_id: str, *, look_first: bool) -> None:
        """File a copy of a message we sent in ``folder`` (the Sent folder), read and not a
        draft; with ``look_first``, not if a copy with its Message-ID is there already (we
        were stopped after the CreateItem)."""

        def file_copy(session: _Session) -> None:
            target = self._filing_folder(session, folder)
            if look_first and target.filter(message_id=message_id).exists():
                return
            _FiledCopy(
                account=session.account,
                folder=target,
                mime_content=raw,
                is_read=True,
                message_flags=MSGFLAG_READ,
            ).save()

        self._call(f"cannot file a copy in {folder}", file_copy)

    def wait(self, seconds: float, stop: Callable[[], bool]) -> None:
        """Ask SyncFolderItems at once (mail that came during the pass), then every
        ``poll_seconds``; return when a message not in the last snapshot is listed, after
        ``seconds``, or within a second of ``stop()``."""
        deadline = time.monotonic() + seconds
        next_look = time.monotonic()
        while not stop():
            now = time.monotonic()
            if now >= deadline:
                return
            if now >= next_look:
                if self._news():
                    return
                next_look = time.monotonic() + self.settings.poll_seconds
                continue
            time.sleep(max(0.0, min(STOP_CHECK_SECONDS, deadline - now, next_look - now)))

    # -- folders -------------------------------------------------------------------------------

    def _target_name(self, destination: Destination) -> str:
        s = self.settings
        return s.processed_folder if destination is Destination.PROCESSED else s.quarantine_folder

    def _filing_folder(self, session: _Session, name: str) -> Any:
        key = name.strip().casefold()
        if key not in session.filing:
            if key in SENT_NAMES:
                session.filing[key] = session.account.sent
            else:
                session.filing[key] = self._folder_at(session.account.msg_folder_root, name)
        return session.filing[key]

    def _folder_at(self, start: Any, path: str, *, create: bool = True) -> Any:
        """The folder at ``path`` (display names, "/" between) under ``start``, each part
        looked up by a shallow FindFolder (``//``: exchangelib's way that does not fetch the
        whole folder tree), created if missing when ``create``."""
        folder = start
        for name in _parts(path):
            try:
                folder = folder // name
            except ErrorFolderNotFound:
                if not create:
                    raise
                folder = self._create_folder(folder, name)
        return folder

    def _create_folder(self, parent: Any, name: str) -> Any:
        new = Folder(parent=parent, name=name, folder_class="IPF.Note")
        # CreateFolder itself: Folder.save() would add the folder to exchangelib's cache of the
        # whole folder tree, which it would fetch first.
        created = next(
            iter(CreateFolder(account=parent.account).call(parent_folder=parent, folders=[new]))
        )
        if isinstance(created, ErrorFolderExists):  # made meanwhile by another process
            return parent // name
        if isinstance(created, Exception):
            raise created
        log.info("folder created", extra={"mailbox": self.name, "folder": name})
        return created

    # -- SyncFolderItems -----------------------------------------------------------------------

    def _sync(self) -> FeedCursor:
        """Bring the cursor up to date: from its sync state, or by a full listing when there
        is none (first start, another folder) or the server refuses it."""

        def bring_up_to_date(session: _Session) -> FeedCursor:
            folder_id = session.watched.id
            state = self._current(folder_id)
            if state is not None:
                try:
                    return _follow(session.watched, state)
                except ErrorInvalidSyncStateData:
                    log.info("sync state refused; listing the folder", extra={"mailbox": self.name})
            return _follow(session.watched, FeedCursor(folder_id, ""))

        state = self._call("cannot list the folder", bring_up_to_date)
        self._keep(state)
        return state

    def _news(self) -> bool:
        """Whether SyncFolderItems lists a message the last snapshot did not."""
        before = self._listed
        now = set(self._sync().ids)
        if before is None:
            self._listed = now
            return False
        return bool(now - before)

    def _current(self, folder_id: str) -> FeedCursor | None:
        """The cursor in memory, read from the store on first use; None if it belongs to
        another folder (the watched folder was replaced)."""
        state = self._cursor.current()
        if state is None or state.folder_id != folder_id or not state.position:
            return None
        return state

    def _keep(self, state: FeedCursor) -> None:
        self._cursor.keep(state)

    def _forget(self, uids: Iterable[str]) -> None:
        """Messages that left the folder (we moved them, or found them gone): the cursor stops
        listing them now; the sync will say the same in its next round."""
        state = self._cursor.state
        if state is None:
            return
        ids = {k: v for k, v in state.ids.items() if k not in set(uids)}
        if ids != state.ids:
            self._keep(FeedCursor(state.folder_id, state.position, ids))

    def _still_here(self, session: _Session, uids: Sequence[str]) -> list[str]:
        found = session.account.fetch(
            ids=[ItemId(uid) for uid in uids],
            folder=session.watched,
            only_fields=["parent_folder_id"],
        )
        here = []
        for uid, item in zip(uids, found, strict=True):
            if isinstance(item, (ErrorItemNotFound, ErrorInvalidIdMalformed)):
                continue
            if isinstance(item, Exception):
                raise item
            if _in_folder(item, session.watched):
                here.append(uid)
        return here

    # -- calls ---------------------------------------------------------------------------------

    def _call(self, what: str, operation: Callable[[_Session], T], uid: str | None = None) -> T:
        """Run ``operation`` on the open session (opening it first): a refused login is
        retried once with a fresh secret, ErrorServerBusy waited out briefly, and every other
        failure made a ``MailboxError`` (the session dropped: the next call logs in afresh)."""
        retried_login = False
        busy = 0
        while True:
            try:
                return operation(self._opened())
            except _REFUSALS as err:
                self._drop()
                if retried_login or not self._fresh_secret_after_refusal():
                    reason = _reason(err)
                    raise MailboxAuthError(f"{self._where(uid)}: login refused ({reason})") from err
                retried_login = True
            except ErrorServerBusy as err:
                busy += 1
                self._wait_while_busy(err, what, uid, busy)
            except _FAILURES as err:
                self._drop()
                raise MailboxError(f"{self._where(uid)}: {what}: {_reason(err)}") from err

    def _fresh_secret_after_refusal(self) -> bool:
        """Tell the token source the secret was refused; whether there is a new one to try.
        A token is always worth a second try (the source fetches a new one); a password only
        if it has changed, since an account lockout policy counts every refused try."""
        log.info("login refused", extra={"mailbox": self.name})
        self._refused()
        if self.settings.auth == "oauth":
            return True
        return self._secret() != self._secret_used

    def _wait_while_busy(
        self, err: ErrorServerBusy, what: str, uid: str | None, tries: int
    ) -> None:
        wait = float(err.back_off or 0.0)
        if tries > MAX_BUSY_TRIES or wait > MAX_BUSY_WAIT_SECONDS:
            raise MailboxError(
                f"{self._where(uid)}: {what}: throttled (ErrorServerBusy, asked to wait "
                f"{wait:.1f} s, try {tries})"
            ) from err
        log.info(
            "server busy; waiting as asked",
            extra={"mailbox": self.name, "seconds": round(wait, 3)},
        )
        time.sleep(wait)


_SYNC_STATE = f"{{{MNS}}}SyncState"
_LAST_IN_RANGE = f"{{{MNS}}}IncludesLastItemInRange"


class _SyncFolderItems(SyncFolderItems):  # type: ignore[misc]
    """exchangelib's SyncFolderItems reads an answer's SyncState and IncludesLastItemInRange
    before its ResponseClass. An error answer may carry neither (messages.xsd makes both
    optional), and would then surface as an AttributeError instead of the server's error
    (ErrorInvalidSyncStateData): such an answer is read as a plain response message."""

    def _get_element_container(self, message: Any, name: Any = None) -> Any:
        if message.find(_SYNC_STATE) is None or message.find(_LAST_IN_RANGE) is None:
            return super(SyncFolder, self)._get_element_container(message=message, name=name)
        return super()._get_element_container(message=message, name=name)


def _follow(folder: Any, state: FeedCursor) -> FeedCursor:
    """SyncFolderItems from ``state`` to the end of the changes, page by page, applied to a
    copy of its ids: a failure half way leaves the cursor as it was. (What
    ``Folder.sync_items`` does, with the service above.)"""
    ids = dict(state.ids)
    sync_state = state.position or None  # none: every message in the folder, as created
    service = _SyncFolderItems(account=folder.account)
    fields = set(folder.normalize_fields(fields=["datetime_received"]))
    while True:
        changes = service.call(
            folder=folder,
            shape=ID_ONLY,
            additional_fields=fields,
            sync_state=sync_state,
            ignore=None,
            max_changes_returned=SYNC_PAGE,
            sync_scope=None,
        )
        _apply(ids, changes)
        if not service.sync_state:
            raise MalformedResponseError("SyncFolderItems gave no sync state")
        # Some servers hand back the same state without IncludesLastItemInRange: the end too.
        done = service.includes_last_item_in_range or service.sync_state == sync_state
        sync_state = service.sync_state
        if done:
            return FeedCursor(state.folder_id, str(sync_state), ids)


def _apply(ids: dict[str, str], changes: Iterable[tuple[str, Any]]) -> None:
    for change, item in changes:
        if change == "delete":
            ids.pop(item.id, None)
        elif change in ("create", "update"):
            received = _aware(getattr(item, "datetime_received", None))
            ids.setdefault(item.id, received.isoformat() if received else "")
        # "read_flag_change": the message is still there; nothing to note.


def _parts(path: str) -> list[str]:
    return [p.strip() for p in path.split("/") if p.strip()]


def _in_folder(item: Any, folder: Any) -> bool:
    parent = getattr(item, "parent_folder_id", None)
    return parent is not None and parent.id == folder.id


def _aware(value: Any) -> datetime | None:
    """exchangelib's EWSDateTime as a plain aware datetime in UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        v = value
        return datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, tzinfo=UTC)
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)


def _dispose(account: Any) -> None:
    """Close the account's connection pool and forget it (see _PasswordCredentials)."""
    protocol = account.protocol
    try:
        protocol.close()
    except Exception:  # already broken: nothing more to do with it
        log.debug("closing an EWS connection pool failed", exc_info=True)
    with contextlib.suppress(KeyError):
        del Protocol[protocol.config]


def _reason(err: BaseException) -> str:
    """What went wrong, in one line, without what the server sent back: a malformed answer
    or a SOAP fault may quote the request or a message."""
    name = type(err).__name__
    if isinstance(err, CASError):
        return f"{name} {err.cas_error}"
    if isinstance(err, (MalformedResponseError, SOAPError)) and not isinstance(
        err, ResponseMessageError
    ):
        return name
    text = " ".join(str(err).split())
    if len(text) > _MAX_REASON:
        text = text[: _MAX_REASON - 1] + "…"
    return f"{name}: {text}" if text else name
