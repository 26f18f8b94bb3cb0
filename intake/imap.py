"""An IMAP mailbox, with imapclient.

* **Security**: TLS from the first byte (``tls``, port 993) or STARTTLS (``starttls``, port
  143); ``none`` is refused unless the host is a loopback address. Certificates are verified
  against the system store, or a CA file of the operator's (a test CA in the tests).
* **Login**: a password, or an OAuth 2.0 bearer token (SASL XOAUTH2) for servers that want one.
* **Waiting**: IDLE (RFC 2177) when the server offers it, re-issued well before the 29 minutes
  after which a server may drop an idle client; polling when it does not.
* **Moving**: MOVE (RFC 6851) when offered, else COPY, flag \\Deleted and UID EXPUNGE of that
  one message (RFC 4315), so another client's deleted messages are never expunged by us.

Every library error is translated here into ``MailboxError`` (``MailboxAuthError`` for a
refused login); the connection is made in one method, ``_open``, so tests can swap it.
"""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from intake.errors import MailboxAuthError, MailboxError
from intake.mailbox import Destination, Fetched, FolderSnapshot

log = logging.getLogger(__name__)

# RFC 2177: a server may log out a client idle for 30 minutes; re-issue IDLE before 29.
IDLE_RENEW_SECONDS = 25 * 60
# How often a wait looks at the stop flag.
STOP_CHECK_SECONDS = 1.0
# A connection that answers nothing for this long is treated as dropped.
SOCKET_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ImapSettings:
    host: str
    port: int
    username: str
    security: str  # "tls" | "starttls" | "none"
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    auth: str = "password"  # "password" | "xoauth2"
    ca_file: Path | None = None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def security_problem(security: str, host: str) -> str | None:
    """Why a connection's security setting may not be used (IMAP and SMTP alike), or None:
    TLS on every connection, except to a loopback host (domain.md §9)."""
    if security not in ("tls", "starttls", "none"):
        return f"{security!r} is not tls, starttls or none"
    if security == "none" and not is_loopback(host):
        return f"none is allowed only to a loopback host, not {host}"
    return None


def check_security(settings: ImapSettings) -> None:
    problem = security_problem(settings.security, settings.host)
    if problem:
        raise MailboxError(f"mailbox.security: {problem}")


class ImapMailbox:
    def __init__(
        self,
        settings: ImapSettings,
        secret: Callable[[], str],
        refused: Callable[[], None] = lambda: None,
    ) -> None:
        check_security(settings)
        self.settings = settings
        self._secret = secret  # called at each login: a token may have been renewed
        self._refused = refused  # told when a token was refused: the next one is new
        self._client: IMAPClient | None = None
        self._can_idle = False
        self._can_move = False
        self._last_uid: int | None = None  # the highest UID of the last snapshot

    @property
    def name(self) -> str:
        s = self.settings
        return f"imap://{s.username}@{s.host}:{s.port}"

    @property
    def folder(self) -> str:
        return self.settings.folder

    def _where(self, uid: str | None = None) -> str:
        place = f"mailbox {self.name}/{self.settings.folder}"
        return place if uid is None else f"{place} uid {uid}"

    @contextmanager
    def _errors(self, what: str, uid: str | None = None) -> Iterator[None]:
        try:
            yield
        except LoginError as err:
            self._drop()
            raise MailboxAuthError(f"{self._where(uid)}: login refused") from err
        except (IMAPClientError, imaplib.IMAP4.error, OSError, ssl.SSLError, EOFError) as err:
            self._drop()
            raise MailboxError(f"{self._where(uid)}: {what}: {type(err).__name__}: {err}") from err

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(
            cafile=str(self.settings.ca_file) if self.settings.ca_file else None
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _open(self) -> IMAPClient:
        s = self.settings
        context = self._tls_context()
        client = IMAPClient(
            s.host,
            port=s.port,
            ssl=s.security == "tls",
            ssl_context=context,
            timeout=SOCKET_TIMEOUT_SECONDS,
        )
        if s.security == "starttls":
            client.starttls(context)
        if s.auth == "xoauth2":
            try:
                client.oauth2_login(s.username, self._secret())
            except LoginError:
                # The token ran out or was revoked before its time: one more try, new token.
                self._refused()
                client.oauth2_login(s.username, self._secret())
        else:
            client.login(s.username, self._secret())
        return client

    def connect(self) -> None:
        if self._client is not None:
            return
        with self._errors("cannot connect"):
            client = self._open()
            capabilities = client.capabilities()
            self._can_idle = b"IDLE" in capabilities
            self._can_move = b"MOVE" in capabilities
            for folder in (self.settings.processed_folder, self.settings.quarantine_folder):
                if not client.folder_exists(folder):
                    client.create_folder(folder)
            self._client = client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.shutdown()
            except Exception:  # already broken: nothing more to do with it
                log.debug("closing a broken IMAP connection failed", exc_info=True)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.logout()
            except Exception:
                log.debug("IMAP logout failed", exc_info=True)

    def _connected(self) -> IMAPClient:
        self.connect()
        assert self._client is not None
        return self._client

    def snapshot(self) -> FolderSnapshot:
        with self._errors("cannot list the folder"):
            client = self._connected()
            status = client.select_folder(self.settings.folder)
            uids = client.search(["ALL"])
            self._last_uid = max(uids, default=0)
            return FolderSnapshot(int(status[b"UIDVALIDITY"]), tuple(str(u) for u in sorted(uids)))

    def fetch(self, uid: str) -> Fetched | None:
        with self._errors("cannot fetch", uid):
            # BODY.PEEK leaves \Seen alone: a person looking at the mailbox sees what is new.
            found: dict[int, dict[bytes, Any]] = self._connected().fetch(
                [int(uid)], ["BODY.PEEK[]", "INTERNALDATE"]
            )
        item = found.get(int(uid))
        # Expunged by another client since our last look: Dovecot answers with a NIL body.
        if not item or item.get(b"BODY[]") is None:
            return None
        delivered = item.get(b"INTERNALDATE")
        if delivered is not None and delivered.tzinfo is None:
            delivered = delivered.astimezone()  # imapclient gives local naive times
        return Fetched(bytes(item[b"BODY[]"]), delivered)

    def move(self, uids: Sequence[str], destination: Destination) -> None:
        if not uids:
            return
        target = (
            self.settings.processed_folder
            if destination is Destination.PROCESSED
            else self.settings.quarantine_folder
        )
        numbers = [int(uid) for uid in uids]
        with self._errors(f"cannot move to {target}", ",".join(uids)):
            client = self._connected()
            if self._can_move:
                client.move(numbers, target)
                return
            client.copy(numbers, target)
            client.delete_messages(numbers)
            client.uid_expunge(numbers)

    def keep_copy(self, folder: str, raw: bytes, message_id: str, *, look_first: bool) -> None:
        """Put a copy of a message we sent in ``folder`` (the Sent folder); with
        ``look_first``, not if a copy with its Message-ID is there already (we were stopped
        after the APPEND). Selects ``folder``: the sender uses a connection of its own."""
        with self._errors(f"cannot file a copy in {folder}"):
            client = self._connected()
            if not client.folder_exists(folder):
                client.create_folder(folder)
            if look_first:
                client.select_folder(folder)
                if client.search(["HEADER", "Message-ID", message_id]):
                    return
            client.append(folder, raw, flags=[b"\\Seen"])

    def wait(self, seconds: float, stop: Callable[[], bool]) -> None:
        deadline = time.monotonic() + min(seconds, IDLE_RENEW_SECONDS)
        if not self._can_idle:
            while time.monotonic() < deadline and not stop():
                time.sleep(min(STOP_CHECK_SECONDS, max(0.0, deadline - time.monotonic())))
            return
        with self._errors("IDLE failed"):
            client = self._connected()
            if self._arrived_since_snapshot(client):
                return
            client.idle()
            try:
                # Short checks inside one IDLE: the server sees one long IDLE, and a stop
                # request is noticed within STOP_CHECK_SECONDS.
                while time.monotonic() < deadline and not stop():
                    if client.idle_check(timeout=STOP_CHECK_SECONDS):
                        break
            except imaplib.IMAP4.abort:
                # imapclient reads IDLE responses from a non-blocking socket and can cut a
                # line in two (mjs/imapclient#519): this connection is spoilt, the mailbox is
                # not. The next pass reconnects at once, with no pause for an outage.
                log.info("IDLE read a cut line; reconnecting", extra={"mailbox": self.name})
                self._drop()
                return
            client.idle_done()

    def _arrived_since_snapshot(self, client: IMAPClient) -> bool:
        """Mail delivered while the pass ran: the server told of it in answer to one of the
        pass's commands (imapclient sets such news aside), and IDLE would not tell again."""
        if self._last_uid is None:
            return False
        newer = client.search(["UID", f"{self._last_uid + 1}:*"])
        return any(uid > self._last_uid for uid in newer)
