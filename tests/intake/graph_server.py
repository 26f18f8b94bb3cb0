"""A STAND-IN for Microsoft Graph (v1.0 mail), on loopback HTTPS. It is not Microsoft's
service: Exchange Online cannot run here, so this server answers the calls the Graph mailbox
adapter makes with the RECORDED SHAPES in ``recordings/graph/`` (Graph's documented responses,
fictional values), filled from a small mailbox kept in memory: folders, and messages with
immutable ids and their raw MIME.

It behaves as the documentation says Graph does where the adapter depends on it: immutable ids
that survive moves (``Prefer: IdType="ImmutableId"``), delta rounds paged by
``Prefer: odata.maxpagesize`` with ``@odata.nextLink`` then ``@odata.deltaLink``, ``@removed``
for messages that left the folder, links in the ``mailFolders('id')`` form Graph gives, 401
for a token Entra ID (``tests.entra``) no longer vouches for. Every request is logged.

A test can deliver mail, act as a colleague (move a message away, delete it), make the next
delta call answer 410 Gone, and make the next calls answer 429 with ``Retry-After``.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import secrets
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from tests.entra import (
    GRAPH_AUDIENCE,
    MAILBOX_USER,
    EntraStandIn,
    JsonHandler,
    TlsServer,
    start,
    tls_context,
)

RECORDINGS = Path(__file__).parent / "recordings" / "graph"
DEFAULT_PAGE_SIZE = 10  # Graph's, when the client states no odata.maxpagesize
_WELL_KNOWN = ("msgfolderroot", "inbox", "sentitems", "deleteditems", "drafts", "junkemail")
_DISPLAY = {
    "msgfolderroot": "Top of Information Store",
    "inbox": "Inbox",
    "sentitems": "Sent Items",
    "deleteditems": "Deleted Items",
    "drafts": "Drafts",
    "junkemail": "Junk Email",
}


@cache
def recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS / f"{name}.json").read_text())
    assert data["_recorded_shape"].startswith("RECORDED SHAPE")
    return data


def _fill(template: Any, values: dict[str, Any]) -> Any:
    """The template with ``"{{name}}"`` replaced by the value (any JSON value) and
    ``{{name}}`` inside longer strings by its text."""
    if isinstance(template, dict):
        return {key: _fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, values) for value in template]
    if isinstance(template, str):
        whole = re.fullmatch(r"\{\{(\w+)\}\}", template)
        if whole:
            return values[whole.group(1)]
        return re.sub(r"\{\{(\w+)\}\}", lambda m: str(values[m.group(1)]), template)
    return template


def render(name: str, **values: Any) -> tuple[int, dict[str, str], Any]:
    """A recording filled in: (status, headers, body)."""
    shape = recording(name)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    values = {"date": stamp, "request_id": str(uuid.uuid4()), **values}
    return shape["status"], _fill(shape["headers"], values), _fill(shape["body"], values)


def _new_id(prefix: str) -> str:
    # The look of Exchange ids (base64 with '-', '_' and '=' padding); random, fictional.
    return f"{prefix}{secrets.token_urlsafe(48)}AAA="


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Folder:
    id: str
    display_name: str
    parent_id: str
    well_known: str | None = None


@dataclass
class Message:
    id: str  # immutable: unchanged by moves
    folder_id: str
    raw: bytes
    received: datetime
    change_key: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    @property
    def header(self) -> email.message.Message:
        return email.message_from_bytes(self.raw, policy=email.policy.compat32)


@dataclass(frozen=True)
class GraphRequest:
    method: str
    path: str  # decoded, without the query
    query: dict[str, str]
    prefer: str
    authorized: bool
    status: int

    @property
    def is_delta(self) -> bool:
        return self.path.endswith("/messages/delta")

    @property
    def is_full_listing(self) -> bool:
        """A delta round begun without a state token: the whole folder listed."""
        return self.is_delta and not ({"$skiptoken", "$deltatoken"} & set(self.query))


@dataclass
class _Round:
    """A delta round under way: entries still to send, and the state it ends at."""

    folder_id: str
    entries: list[dict[str, Any]]
    ends_at: dict[str, str]  # message id -> change key, when the round began


class GraphStandIn:
    def __init__(self, entra: EntraStandIn, folder: Path, *, user: str = MAILBOX_USER) -> None:
        self.entra = entra
        self.user = user
        self._lock = threading.RLock()
        self.folders: dict[str, Folder] = {}
        self.messages: dict[str, Message] = {}
        self.requests: list[GraphRequest] = []
        self._delta_tokens: dict[str, tuple[str, dict[str, str]]] = {}
        self._rounds: dict[str, _Round] = {}
        self._throttled = 0
        self._retry_after = "1"
        self._gone_next = False
        self._denied = False
        self._last_received = datetime.now(UTC) - timedelta(hours=1)
        root = self._add_folder("Top of Information Store", "", "msgfolderroot")
        for name in _WELL_KNOWN[1:]:
            self._add_folder(_DISPLAY[name], root.id, name)
        self._server = TlsServer(_handler(self), tls_context(folder))

    @property
    def url(self) -> str:
        """The service root (``GraphSettings.graph_url``)."""
        return f"https://127.0.0.1:{self._server.port}/v1.0"

    def start(self) -> None:
        start(self._server)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the mailbox, as the tests see it ------------------------------------------------------

    def _add_folder(self, name: str, parent_id: str, well_known: str | None = None) -> Folder:
        folder = Folder(_new_id("AAMkADFolder"), name, parent_id, well_known)
        self.folders[folder.id] = folder
        return folder

    def folder(self, name: str) -> Folder | None:
        """A folder by well-known name or display name (the first found, at any level)."""
        with self._lock:
            for folder in self.folders.values():
                if name.casefold() in (folder.well_known, folder.display_name.casefold()):
                    return folder
        return None

    def add_folder(self, name: str, parent: str = "msgfolderroot") -> Folder:
        """A folder someone made (in Outlook) under ``parent`` (well-known or display name)."""
        under = self.folder(parent)
        assert under is not None, parent
        with self._lock:
            return self._add_folder(name, under.id)

    def _folder_or_new(self, name: str) -> Folder:
        found = self.folder(name)
        if found is not None:
            return found
        root = self.folder("msgfolderroot")
        assert root is not None
        with self._lock:
            return self._add_folder(name, root.id)

    def deliver(self, raw: bytes, folder: str = "inbox") -> str:
        """A message arrives; its immutable id is returned. Delivery times rise by at least
        a second (Graph gives whole seconds), so the order of delivery is kept."""
        target = self._folder_or_new(folder)
        with self._lock:
            now = datetime.now(UTC).replace(microsecond=0)
            received = max(now, self._last_received + timedelta(seconds=1))
            self._last_received = received
            message = Message(_new_id("AAkALgAAMsg"), target.id, raw, received)
            self.messages[message.id] = message
            return message.id

    def count(self, folder: str) -> int:
        found = self.folder(folder)
        if found is None:
            return 0
        with self._lock:
            return sum(1 for m in self.messages.values() if m.folder_id == found.id)

    def ids_in(self, folder: str) -> list[str]:
        found = self.folder(folder)
        with self._lock:
            return [m.id for m in self.messages.values() if found and m.folder_id == found.id]

    def by_message_id(self, message_id: str) -> Message:
        with self._lock:
            for message in self.messages.values():
                if message.header["Message-ID"] == message_id:
                    return message
        raise KeyError(message_id)

    def move(self, uid: str, folder: str) -> None:
        """A colleague moves a message (in Outlook): same immutable id, another folder."""
        target = self._folder_or_new(folder)
        with self._lock:
            message = self.messages[uid]
            message.folder_id = target.id
            message.change_key = secrets.token_urlsafe(18)

    def delete(self, uid: str, *, hard: bool = True) -> None:
        """A colleague deletes a message: for good (Shift+Delete, then it is gone: 404), or
        into Deleted Items."""
        if not hard:
            self.move(uid, "deleteditems")
            return
        with self._lock:
            del self.messages[uid]

    # -- faults -----------------------------------------------------------------------------

    def revoke_tokens(self) -> None:
        """Every token issued so far is refused from now on (Entra ID no longer vouches for
        them: a changed secret, a withdrawn permission); new ones work."""
        self.entra.revoke_all()

    def throttle(self, calls: int, retry_after: str = "1") -> None:
        """The next ``calls`` requests are answered 429 with this Retry-After."""
        with self._lock:
            self._throttled = calls
            self._retry_after = retry_after

    def deny_access(self, denied: bool = True) -> None:
        """Answer 403 ErrorAccessDenied to a valid token (Exchange's scope for the app leaves
        this mailbox out), or stop doing so."""
        with self._lock:
            self._denied = denied

    def forget_delta_tokens(self) -> None:
        """The next delta call with a state token is answered 410 Gone (Graph lost the sync
        state: maintenance, or an old token dropped from its cache); the tokens are gone."""
        with self._lock:
            self._gone_next = True

    # -- the log ----------------------------------------------------------------------------

    def log(self) -> list[GraphRequest]:
        with self._lock:
            return list(self.requests)

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- answering ------------------------------------------------------------------------------

    def answer(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        split = urllib.parse.urlsplit(raw_path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query).items()}
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        authorized = self.entra.is_valid(token, GRAPH_AUDIENCE)
        with self._lock:
            status, out_headers, out = self._answer(
                method, split.path, query, headers, body, authorized
            )
            self.requests.append(
                GraphRequest(
                    method,
                    urllib.parse.unquote(split.path),
                    query,
                    headers.get("prefer", ""),
                    authorized,
                    status,
                )
            )
        return status, out_headers, out

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        authorized: bool,
    ) -> tuple[int, dict[str, str], Any]:
        if self._throttled > 0:
            self._throttled -= 1
            return render("error-429-too-many-requests", retry_after=self._retry_after)
        if not authorized:
            return render("error-401-invalid-authentication-token")
        if self._denied:
            return render("error-403-access-denied")
        route = _route(path)
        if route is None:
            return render("error-404-item-not-found")
        kind, user, ident = route
        if user.casefold() != self.user.casefold():
            return render("error-404-invalid-user", user=user)
        payload = json.loads(body) if body else {}
        page_size = _page_size(headers.get("prefer", ""))
        handlers: dict[tuple[str, str], Callable[[], tuple[int, dict[str, str], Any]]] = {
            ("GET", "folders"): lambda: self._list_folders(None, query),
            ("POST", "folders"): lambda: self._create_folder(None, payload),
            ("GET", "folder"): lambda: self._get_folder(ident),
            ("GET", "children"): lambda: self._list_folders(ident, query),
            ("POST", "children"): lambda: self._create_folder(ident, payload),
            ("GET", "delta"): lambda: self._delta(ident, query, page_size),
            ("GET", "message"): lambda: self._get_message(ident),
            ("GET", "value"): lambda: self._get_value(ident),
            ("POST", "move"): lambda: self._move(ident, payload),
        }
        handler = handlers.get((method, kind))
        if handler is None:
            return render("error-404-item-not-found")
        return handler()

    def _values(self) -> dict[str, str]:
        return {"graph_url": self.url, "user": self.user}

    def _find_folder(self, ident: str) -> Folder | None:
        if ident in self.folders:
            return self.folders[ident]
        return next((f for f in self.folders.values() if f.well_known == ident.casefold()), None)

    def _folder_body(
        self, folder: Folder, shape: str = "mailfolder"
    ) -> tuple[int, dict[str, str], Any]:
        inside = [m for m in self.messages.values() if m.folder_id == folder.id]
        children = [f for f in self.folders.values() if f.parent_id == folder.id]
        return render(
            shape,
            **self._values(),
            id=folder.id,
            display_name=folder.display_name,
            parent_id=folder.parent_id,
            child_count=len(children),
            unread_count=len(inside),
            total_count=len(inside),
            size=sum(len(m.raw) for m in inside),
        )

    def _get_folder(self, ident: str) -> tuple[int, dict[str, str], Any]:
        folder = self._find_folder(ident)
        return render("error-404-item-not-found") if folder is None else self._folder_body(folder)

    def _list_folders(
        self, parent: str | None, query: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        under = self._find_folder(parent or "msgfolderroot")
        if under is None:
            return render("error-404-item-not-found")
        wanted = _display_name_filter(query.get("$filter", ""))
        entries = [
            render("mailfolder-list-entry", id=f.id, display_name=f.display_name)[2]
            for f in self.folders.values()
            if f.parent_id == under.id and (wanted is None or f.display_name == wanted)
        ]
        return render("mailfolder-list", **self._values(), value=entries)

    def _create_folder(
        self, parent: str | None, payload: dict[str, Any]
    ) -> tuple[int, dict[str, str], Any]:
        under = self._find_folder(parent or "msgfolderroot")
        if under is None:
            return render("error-404-item-not-found")
        folder = self._add_folder(str(payload["displayName"]), under.id)
        return self._folder_body(folder, "mailfolder-created")

    def _get_message(self, ident: str) -> tuple[int, dict[str, str], Any]:
        message = self.messages.get(ident)
        if message is None:
            return render("error-404-item-not-found")
        return render(
            "message-select",
            **self._values(),
            id=message.id,
            change_key=message.change_key,
            received=_stamp(message.received),
            parent_id=message.folder_id,
        )

    def _get_value(self, ident: str) -> tuple[int, dict[str, str], Any]:
        message = self.messages.get(ident)
        if message is None:
            return render("error-404-item-not-found")
        return 200, {"Content-Type": "text/plain"}, message.raw

    def _move(self, ident: str, payload: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        message = self.messages.get(ident)
        target = self._find_folder(str(payload.get("destinationId", "")))
        if message is None or target is None:
            return render("error-404-item-not-found")
        message.folder_id = target.id
        message.change_key = secrets.token_urlsafe(18)
        return render(
            "message-moved",
            **self._values(),
            id=message.id,
            change_key=message.change_key,
            received=_stamp(message.received),
            modified=_stamp(datetime.now(UTC)),
            internet_message_id=message.header["Message-ID"] or "",
            subject=message.header["Subject"] or "",
            parent_id=target.id,
            conversation_id=_new_id("AAQkADConv"),
        )

    # -- delta ------------------------------------------------------------------------------

    def _delta(
        self, ident: str, query: dict[str, str], page_size: int
    ) -> tuple[int, dict[str, str], Any]:
        folder = self._find_folder(ident)
        if folder is None:
            return render("error-404-item-not-found")
        if "$skiptoken" in query:
            round_ = self._rounds.pop(query["$skiptoken"], None)
        elif "$deltatoken" in query:
            round_ = self._next_round(folder, query["$deltatoken"])
        else:
            round_ = self._first_round(folder)
        if round_ is None:
            self._gone_next = False
            self._delta_tokens.clear()
            restart = f"{self._folder_link(folder.id)}?$deltatoken="
            return render("error-410-sync-state-not-found", restart_link=restart)
        return self._page(folder, round_, page_size)

    def _now_in(self, folder: Folder) -> dict[str, str]:
        return {m.id: m.change_key for m in self.messages.values() if m.folder_id == folder.id}

    def _first_round(self, folder: Folder) -> _Round:
        state = self._now_in(folder)
        return _Round(folder.id, [self._entry(uid) for uid in state], state)

    def _next_round(self, folder: Folder, token: str) -> _Round | None:
        known = self._delta_tokens.get(token)
        if self._gone_next or known is None or known[0] != folder.id:
            return None
        before = known[1]
        now = self._now_in(folder)
        changed = [self._entry(uid) for uid, key in now.items() if before.get(uid) != key]
        removed = [render("delta-removed", id=uid)[2] for uid in before if uid not in now]
        return _Round(folder.id, changed + removed, now)

    def _entry(self, uid: str) -> dict[str, Any]:
        message = self.messages[uid]
        return render(
            "delta-message",
            id=uid,
            change_key=message.change_key,
            received=_stamp(message.received),
        )[2]

    def _page(
        self, folder: Folder, round_: _Round, page_size: int
    ) -> tuple[int, dict[str, str], Any]:
        page, rest = round_.entries[:page_size], round_.entries[page_size:]
        link = self._folder_link(folder.id)
        if rest:
            token = secrets.token_urlsafe(24)
            self._rounds[token] = _Round(folder.id, rest, round_.ends_at)
            return render(
                "delta-page", **self._values(), next_link=f"{link}?$skiptoken={token}", value=page
            )
        token = secrets.token_urlsafe(24)
        self._delta_tokens[token] = (folder.id, round_.ends_at)
        return render(
            "delta-last-page",
            **self._values(),
            delta_link=f"{link}?$deltatoken={token}",
            value=page,
        )

    def _folder_link(self, folder_id: str) -> str:
        # Graph's links name the folder in the key form: mailFolders('id').
        user = urllib.parse.quote(self.user, safe="@")
        key = urllib.parse.quote(folder_id, safe="")
        return f"{self.url}/users/{user}/mailFolders('{key}')/messages/delta"


_ROUTES = (
    ("folders", re.compile(r"^/v1\.0/users/([^/]+)/mailFolders$")),
    (
        "children",
        re.compile(r"^/v1\.0/users/([^/]+)/mailFolders(?:/([^/(]+)|\('([^']+)'\))/childFolders$"),
    ),
    (
        "delta",
        re.compile(r"^/v1\.0/users/([^/]+)/mailFolders(?:/([^/(]+)|\('([^']+)'\))/messages/delta$"),
    ),
    ("folder", re.compile(r"^/v1\.0/users/([^/]+)/mailFolders(?:/([^/(]+)|\('([^']+)'\))$")),
    ("value", re.compile(r"^/v1\.0/users/([^/]+)/messages/([^/]+)/\$value$")),
    ("move", re.compile(r"^/v1\.0/users/([^/]+)/messages/([^/]+)/move$")),
    ("message", re.compile(r"^/v1\.0/users/([^/]+)/messages/([^/]+)$")),
)


def _route(path: str) -> tuple[str, str, str] | None:
    """(kind, user, id) of a request path (still percent-encoded)."""
    for kind, pattern in _ROUTES:
        match = pattern.match(path)
        if match:
            groups = [g for g in match.groups()[1:] if g is not None]
            ident = urllib.parse.unquote(groups[0]) if groups else ""
            return kind, urllib.parse.unquote(match.group(1)), ident
    return None


def _page_size(prefer: str) -> int:
    match = re.search(r"odata\.maxpagesize=(\d+)", prefer)
    return int(match.group(1)) if match else DEFAULT_PAGE_SIZE


def _display_name_filter(text: str) -> str | None:
    match = re.fullmatch(r"displayName eq '((?:[^']|'')*)'", text.strip())
    return match.group(1).replace("''", "'") if match else None


def _handler(graph: GraphStandIn) -> Callable[..., JsonHandler]:
    class Handler(JsonHandler):
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, out_headers, out = graph.answer(method, self.path, headers, body)
            if isinstance(out, bytes):
                self.send_response(status)
                for name, value in out_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
                return
            extra = {k: v for k, v in out_headers.items() if k.lower() != "content-type"}
            self.send_json(status, out, extra)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


@contextmanager
def graph_stand_in(entra: EntraStandIn, folder: Path) -> Iterator[GraphStandIn]:
    graph = GraphStandIn(entra, folder)
    graph.start()
    try:
        yield graph
    finally:
        graph.stop()
