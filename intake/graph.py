"""An Exchange Online mailbox through Microsoft Graph (v1.0), with requests.

* **Ids**: every request carries ``Prefer: IdType="ImmutableId"``: a message's immutable id
  stays the same while it stays in the mailbox, moves between folders included, so the id the
  ledger keeps still names the message after we (or a colleague) moved it. Without the header
  Graph hands out ids that change on every move.
* **Listing**: a delta query on the watched folder (``messages/delta``), page by page to its
  ``@odata.deltaLink``. The link and the ids in the folder are the cursor, kept through
  ``CursorStore``: a restart goes on from the link (only what changed since), not a full
  listing, and still lists every message in the folder (the worker takes a message missing
  from a listing for one that has left). A link Graph no longer knows (410 Gone, or a
  ``syncStateNotFound`` error) is dropped and the folder listed afresh, at once.
* **Waiting**: polling the delta feed (Graph's change notifications need a public HTTPS
  endpoint to call, which this service does not offer).
* **Moving**: ``POST .../messages/{id}/move``, only for a message still in the watched folder:
  one a colleague deleted or moved elsewhere is passed over, never brought back.
* **Throttling**: 429 and 503 are waited out as ``Retry-After`` says (up to
  ``MAX_RETRY_AFTER_SECONDS``), then the same request is sent again.
* **Tokens**: from ``intake.entra.TokenSource``; a 401 makes it fetch a new token, once.

Every failure is translated here into ``MailboxError`` (``MailboxAuthError`` for refused
credentials), naming the mailbox and what was being done, never a token or mail content.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests

from intake.entra import TokenSource, network_reason
from intake.errors import MailboxAuthError, MailboxError
from intake.feedcursor import CursorKeeper, FeedCursor
from intake.mailbox import CursorStore, Destination, Fetched, FolderSnapshot

log = logging.getLogger(__name__)

# Immutable ids never renumber, so the folder has one UIDVALIDITY for ever (see snapshot()).
GRAPH_UIDVALIDITY = 1
IMMUTABLE_IDS = 'IdType="ImmutableId"'
# Messages per delta page (Graph's default is 10; a bigger page is fewer requests).
PAGE_SIZE = 100
# How often a wait looks at the delta feed: 60 requests in 10 minutes, far under Outlook's
# 10,000 per app and mailbox.
POLL_SECONDS = 10.0
STOP_CHECK_SECONDS = 1.0
# A Retry-After longer than this is not waited out inside a call: the pass fails, and the
# daemon's own pause and retry take over.
MAX_RETRY_AFTER_SECONDS = 120.0
# 429 or 503 without Retry-After: a short pause all the same (throttling guidance).
DEFAULT_RETRY_AFTER_SECONDS = 5.0
# Throttled answers to one call before giving up on it.
MAX_THROTTLED_TRIES = 5
# (connect, read) seconds: a message body may be large.
HTTP_TIMEOUT = (15.0, 120.0)
# Folders Graph names itself (mailFolder "well-known names"), by the names people use.
WELL_KNOWN_FOLDERS = {
    "inbox": "inbox",
    "sentitems": "sentitems",
    "sent items": "sentitems",
    "deleteditems": "deleteditems",
    "deleted items": "deleteditems",
    "drafts": "drafts",
    "junkemail": "junkemail",
    "junk email": "junkemail",
    "archive": "archive",
}
# Codes Graph gives (with 410, or 400 for some resources) when a delta link is unknown.
_SYNC_STATE_LOST = frozenset({"syncstatenotfound", "syncstateinvalid", "resyncrequired"})


@dataclass(frozen=True, slots=True)
class GraphSettings:
    user: str  # the mailbox's user principal name
    folder: str = "Inbox"  # a well-known name, or a path of display names: "Inbox/MAPPA"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    ca_file: Path | None = None  # CA certificates to trust instead of the system's
    poll_seconds: float = POLL_SECONDS


class _SyncReset(Exception):
    """Graph no longer knows the delta link: the folder must be listed afresh."""


class _Stopped(Exception):
    """A stop was asked for while a wait was being throttled."""


def _never() -> bool:
    return False


class GraphMailbox:
    def __init__(self, settings: GraphSettings, tokens: TokenSource, cursor: CursorStore) -> None:
        self.settings = settings
        self.tokens = tokens
        self._cursor = CursorKeeper(cursor)
        self._origin = _origin(settings.graph_url)
        self._session: requests.Session | None = None
        self._verify: str | bool = str(settings.ca_file) if settings.ca_file else True
        self._watched = ""  # the watched folder's id, once connected
        self._targets: dict[Destination, str] = {}
        self._stop: Callable[[], bool] = _never  # wait()'s, while it waits

    @property
    def name(self) -> str:
        return f"graph://{self.settings.user}"

    @property
    def folder(self) -> str:
        return self.settings.folder

    def _where(self, uid: str | None = None) -> str:
        place = f"mailbox {self.name}/{self.settings.folder}"
        return place if uid is None else f"{place} id {uid}"

    # -- connection ----------------------------------------------------------------------------

    def connect(self) -> None:
        """Find the folders (creating Processed and Quarantine if need be)."""
        if self._session is not None:
            return
        self._session = requests.Session()
        try:
            self._watched = self._resolve(self.settings.folder, create=False)
            self._targets = {
                Destination.PROCESSED: self._resolve(self.settings.processed_folder, create=True),
                Destination.QUARANTINE: self._resolve(self.settings.quarantine_folder, create=True),
            }
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()

    # -- the Mailbox protocol ------------------------------------------------------------------

    def snapshot(self) -> FolderSnapshot:
        """Every message in the watched folder, oldest first. ``uidvalidity`` is a constant:
        an immutable id names one message for as long as it is in the mailbox, moves between
        folders included, so there is no renumbering to announce. (A message moved to an
        archive mailbox, or exported and imported again, comes back with a new id: to the
        ledger a new place, where its bytes and Message-ID find the existing row.)"""
        self.connect()
        return FolderSnapshot(GRAPH_UIDVALIDITY, self._sync().listing())

    def fetch(self, uid: str) -> Fetched | None:
        self.connect()
        item = self._message(uid)
        if item is None or item.get("parentFolderId") != self._watched:
            self._forget([uid])  # deleted, or moved away by someone else since the listing
            return None
        response = self._request(
            "GET", f"{self._message_url(uid)}/$value", "cannot fetch", uid, expect={404}
        )
        if response.status_code == 404:
            self._forget([uid])
            return None
        return Fetched(response.content, _received(item.get("receivedDateTime")))

    def move(self, uids: Sequence[str], destination: Destination) -> None:
        """Move each message still in the watched folder; one deleted, or moved elsewhere by
        a colleague, since the listing is passed over (never brought back). Between the
        look and the move there is one request's time for someone to move it first."""
        if not uids:
            return
        self.connect()
        target = self._targets[destination]
        what = f"cannot move to {self._target_name(destination)}"
        for uid in uids:
            item = self._message(uid)
            if item is not None and item.get("parentFolderId") == self._watched:
                body = {"destinationId": target}
                url = f"{self._message_url(uid)}/move"
                self._request("POST", url, what, uid, body=body, expect={404})  # 404: deleted
        self._forget(uids)

    def keep_copy(self, folder: str, raw: bytes, message_id: str, *, look_first: bool) -> None:
        """Nothing to do: Exchange Online itself files a message sent through SMTP AUTH client
        submission in the sender's Sent Items (since June 2018), and Graph cannot file one
        in its place: a message created from MIME is always a draft ("Create message"),
        shown as unsent. Leave ``mailbox.sent_folder`` empty for a Graph mailbox; one set
        all the same files no second copy."""
        log.debug("sent copy left to Exchange Online", extra={"mailbox": self.name})

    def wait(self, seconds: float, stop: Callable[[], bool]) -> None:
        """Look at the delta feed at once (mail that came during the pass), then every
        ``poll_seconds``; return when a new message is listed, after ``seconds``, or within
        a second of ``stop()``."""
        deadline = time.monotonic() + seconds
        next_look = time.monotonic()
        self._stop = stop  # a throttled look is cut short by a stop too
        try:
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
        except _Stopped:
            return
        finally:
            self._stop = _never

    # -- folders -------------------------------------------------------------------------------

    def _resolve(self, path: str, *, create: bool) -> str:
        """A folder's id from its path of display names ("Inbox/MAPPA"); a first part that
        is a well-known name ("Inbox", "Sent Items") is asked for by that name."""
        parent: str | None = None
        for part in (p.strip() for p in path.split("/")):
            if not part:
                continue
            known = WELL_KNOWN_FOLDERS.get(part.casefold()) if parent is None else None
            if known is not None:
                response = self._request(
                    "GET", f"{self._user_url}/mailFolders/{known}", f"cannot open {path}"
                )
                parent = _text(_json(response), "id")
            else:
                parent = self._child(parent, part, path, create=create)
        if parent is None:
            raise MailboxError(f"{self._where()}: no folder named in {path!r}")
        return parent

    def _child(self, parent: str | None, name: str, path: str, *, create: bool) -> str:
        """The folder ``name`` directly under ``parent`` (None: the top of the mailbox)."""
        base = (
            f"{self._user_url}/mailFolders"
            if parent is None
            else f"{self._user_url}/mailFolders/{_segment(parent)}/childFolders"
        )
        query = {"$filter": f"displayName eq '{_odata_text(name)}'", "$select": "id,displayName"}
        found = _json(self._request("GET", _with_query(base, query), f"cannot look for {path}"))
        for folder in found.get("value") or []:
            if isinstance(folder, dict) and folder.get("displayName") == name:
                return _text(folder, "id")
        if not create:
            raise MailboxError(f"{self._where()}: folder {path!r} not found")
        created = self._request("POST", base, f"cannot create {path}", body={"displayName": name})
        log.info("folder created", extra={"mailbox": self.name, "folder": path})
        return _text(_json(created), "id")

    def _target_name(self, destination: Destination) -> str:
        s = self.settings
        return s.processed_folder if destination is Destination.PROCESSED else s.quarantine_folder

    # -- the delta feed ------------------------------------------------------------------------

    def _sync(self) -> FeedCursor:
        """Bring the cursor up to date: from its delta link, or by a full listing when there
        is none (first start, another folder) or Graph no longer knows it."""
        state = self._current()
        if state is not None:
            try:
                state = self._follow(state.position, dict(state.ids))
            except _SyncReset:
                log.info("delta link expired; listing the folder", extra={"mailbox": self.name})
                state = None
        if state is None:
            try:
                state = self._follow(self._initial_delta_url(), {})
            except _SyncReset as err:
                raise MailboxError(f"{self._where()}: the folder's listing was reset") from err
        self._keep(state)
        return state

    def _follow(self, url: str, ids: dict[str, str]) -> FeedCursor:
        """Read delta pages from ``url`` to the delta link, applying each change to ``ids``
        (a copy: a failure half way leaves the cursor as it was)."""
        prefer = f"odata.maxpagesize={PAGE_SIZE}"
        what = "cannot read the folder's changes"
        while True:
            response = self._request("GET", url, what, expect={400, 410}, prefer=prefer)
            if response.status_code in (400, 410):
                lost = _error_code(response).casefold() in _SYNC_STATE_LOST
                if response.status_code == 410 or lost:
                    raise _SyncReset
                raise self._http_error(response, what)
            page = _json(response)
            _apply(ids, page.get("value") or [])
            next_link = page.get("@odata.nextLink")
            if isinstance(next_link, str):
                url = self._checked_link(next_link)
                continue
            delta_link = page.get("@odata.deltaLink")
            if not isinstance(delta_link, str):
                raise MailboxError(f"{self._where()}: {what}: a page with no link onwards")
            return FeedCursor(self._watched, self._checked_link(delta_link), ids)

    def _news(self) -> bool:
        """Whether the delta feed lists a message not listed before."""
        self.connect()
        before = set(self._cursor.state.ids) if self._cursor.state is not None else set()
        return bool(set(self._sync().ids) - before)

    def _initial_delta_url(self) -> str:
        base = f"{self._user_url}/mailFolders/{_segment(self._watched)}/messages/delta"
        return _with_query(base, {"$select": "id,receivedDateTime"})

    def _current(self) -> FeedCursor | None:
        """The cursor in memory, read from the store on first use; None if it belongs to
        another folder (the watched folder was replaced) or another Graph service."""
        state = self._cursor.current()
        if state is None or state.folder_id != self._watched:
            return None
        if not state.position.startswith(self._origin):
            return None
        return state

    def _keep(self, state: FeedCursor) -> None:
        self._cursor.keep(state)

    def _forget(self, uids: Iterable[str]) -> None:
        """Messages that left the folder (we moved them, or found them gone): the cursor
        stops listing them now; the feed will say the same in its next round."""
        state = self._current()
        if state is None:
            return
        ids = dict(state.ids)
        for uid in uids:
            ids.pop(uid, None)
        if ids != state.ids:
            self._keep(FeedCursor(state.folder_id, state.position, ids))

    # -- messages ------------------------------------------------------------------------------

    @property
    def _user_url(self) -> str:
        return f"{self.settings.graph_url.rstrip('/')}/users/{_segment(self.settings.user)}"

    def _message_url(self, uid: str) -> str:
        return f"{self._user_url}/messages/{_segment(uid)}"

    def _message(self, uid: str) -> dict[str, Any] | None:
        """The message's folder and delivery time, or None if it is gone."""
        url = _with_query(self._message_url(uid), {"$select": "id,parentFolderId,receivedDateTime"})
        response = self._request("GET", url, "cannot look at message", uid, expect={404})
        return None if response.status_code == 404 else _json(response)

    # -- HTTP ----------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        what: str,
        uid: str | None = None,
        *,
        body: dict[str, Any] | None = None,
        expect: set[int] | frozenset[int] = frozenset(),
        prefer: str | None = None,
    ) -> requests.Response:
        """One Graph call: throttling waited out, a refused token renewed once. Answers with
        a status in ``expect`` are returned for the caller to read; other failures raise."""
        renewed = False
        throttled = 0
        while True:
            response = self._send(method, url, what, uid, body, prefer)
            status = response.status_code
            if status in (429, 503):
                throttled += 1
                self._wait_out(response, what, uid, throttled)
                continue
            if status == 401:
                if renewed:
                    raise MailboxAuthError(f"{self._where(uid)}: {what}: the token was refused")
                renewed = True
                self.tokens.refused()
                continue
            if status in expect or 200 <= status < 300:
                return response
            raise self._http_error(response, what, uid)

    def _send(
        self,
        method: str,
        url: str,
        what: str,
        uid: str | None,
        body: dict[str, Any] | None,
        prefer: str | None,
    ) -> requests.Response:
        session = self._session
        if session is None:
            raise MailboxError(f"{self._where(uid)}: {what}: not connected")
        headers = {
            "Authorization": f"Bearer {self._token()}",
            "Prefer": IMMUTABLE_IDS if prefer is None else f"{IMMUTABLE_IDS}, {prefer}",
            "Accept": "application/json",
        }
        try:
            # No redirects: the bearer token goes to the configured Graph service only.
            return session.request(
                method,
                url,
                headers=headers,
                json=body,
                timeout=HTTP_TIMEOUT,
                allow_redirects=False,
                verify=self._verify,  # per call: REQUESTS_CA_BUNDLE overrides a session's
            )
        except requests.RequestException as err:
            raise MailboxError(f"{self._where(uid)}: {what}: {network_reason(err)}") from err

    def _token(self) -> str:
        try:
            return self.tokens.token()
        except MailboxAuthError as err:
            raise MailboxAuthError(f"{self._where()}: {err}") from err
        except MailboxError as err:
            raise MailboxError(f"{self._where()}: {err}") from err

    def _wait_out(
        self, response: requests.Response, what: str, uid: str | None, tries: int
    ) -> None:
        delay = _retry_after(response.headers.get("Retry-After"))
        if delay > MAX_RETRY_AFTER_SECONDS or tries > MAX_THROTTLED_TRIES:
            raise MailboxError(
                f"{self._where(uid)}: {what}: throttled (HTTP {response.status_code},"
                f" Retry-After {delay:.0f} s, try {tries})"
            )
        log.info(
            "Graph asked us to wait",
            extra={"mailbox": self.name, "status": response.status_code, "seconds": delay},
        )
        until = time.monotonic() + delay
        while (left := until - time.monotonic()) > 0:
            if self._stop():
                raise _Stopped
            time.sleep(min(STOP_CHECK_SECONDS, left))

    def _http_error(
        self, response: requests.Response, what: str, uid: str | None = None
    ) -> MailboxError:
        code = _error_code(response)
        detail = f"HTTP {response.status_code}" + (f" {code}" if code else "")
        if response.status_code == 403:
            # The app may not open this mailbox (no Mail.ReadWrite, or an Exchange scope or
            # access policy leaves it out): a setting to change, not an outage to retry.
            return MailboxAuthError(f"{self._where(uid)}: {what}: {detail}")
        return MailboxError(f"{self._where(uid)}: {what}: {detail}")

    def _checked_link(self, url: str) -> str:
        """A link Graph gave us, followed only to the configured service: our bearer token
        is never sent anywhere else."""
        if not url.startswith(self._origin):
            raise MailboxError(f"{self._where()}: Graph gave a link to another host")
        return url


# -- helpers ---------------------------------------------------------------------------------


def _apply(ids: dict[str, str], entries: Iterable[Any]) -> None:
    """One delta page's changes: ``@removed`` entries left the folder (deleted, or moved
    out); the others are in it (new, moved in, or changed: a read flag)."""
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        uid = entry["id"]
        if "@removed" in entry:
            ids.pop(uid, None)
        else:
            ids[uid] = str(entry.get("receivedDateTime") or ids.get(uid) or "")


def _received(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # Graph gives UTC


def _retry_after(value: str | None) -> float:
    """Retry-After as seconds (Graph gives "10" or "2.128"; HTTP also allows a date)."""
    if not value:
        return DEFAULT_RETRY_AFTER_SECONDS
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_SECONDS
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise MailboxError(f"Graph answered {response.status_code} without a JSON object")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MailboxError(f"Graph answered without {key!r}")
    return value


def _error_code(response: requests.Response) -> str:
    """Graph's error code ("ErrorItemNotFound"), or "" if there is none."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    code = error.get("code") if isinstance(error, dict) else None
    return code[:80] if isinstance(code, str) else ""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def _segment(value: str) -> str:
    """An id or address as one path segment (immutable ids may hold '/', '+' and '=')."""
    return quote(value, safe="@")


def _odata_text(value: str) -> str:
    return value.replace("'", "''")  # OData string literals double their quotes


def _with_query(url: str, query: dict[str, str]) -> str:
    return f"{url}?{urlencode(query, quote_via=quote, safe='$,')}"
