"""A STAND-IN for an on-premises Exchange Server's EWS endpoint, on loopback, for the tests.

No Exchange Server can run here, so this small HTTPS server answers ``POST
/EWS/Exchange.asmx`` the way EWS does, with RECORDED SHAPES: the SOAP answers are the
templates in ``tests/intake/recordings/ews/`` (see the README there), reproduced from
Microsoft's documented EWS responses and filled from a small in-memory mailbox. Fictional
data only. It shows that ``intake.ews.EwsMailbox`` keeps the Mailbox contract against answers
of those shapes; it cannot show that a real Exchange Server still answers as recorded.

What it models: folders (root, Top of Information Store, Inbox, Sent Items, Deleted Items,
and any created), messages with ids that change when a message changes folder, as EWS ids
do, SyncFolderItems sync states (self-contained gzip+base64 blobs, like Exchange's), Basic
and Bearer logins. What it can be told to do: deliver a message, let a colleague move or
delete one, refuse the next sync state, answer the next N calls ErrorServerBusy, expire the
bearer tokens in use, refuse every login. It logs every request, so a test can see which
operations were called and with what (a sync state or none).

It does not do NTLM (a challenge-response handshake over one connection): NTLM logins are
not tested.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import http.server
import json
import re
import secrets
import socket
import ssl
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from string import Template
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from tests.servers import _test_certificate

RECORDINGS = Path(__file__).parent / "recordings" / "ews"
EWS_PATH = "/EWS/Exchange.asmx"
MAILBOX = "mappa.lanarkshire@southlanarkshire.gov.uk"
EWS_USER = "svc-mappa-intake@southlanarkshire.gov.uk"
EWS_PASSWORD = "test-only-ews-password"  # the stand-in's, never a real one

S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"

# PidTagMessageFlags: what a message created from MIME is without a value of its own.
MSGFLAG_UNSENT = 0x8
NOT_FOUND = "The specified object was not found in the store."
_EMPTY_SYNC_STATE = "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>"
_GUID = bytes.fromhex("6d617070612d6c616e61726b73686972")  # the fictional mailbox's GUID


def _template(name: str) -> Template:
    # Comments say what a recording is; they must not reach the client (exchangelib reads
    # some elements by position, and a comment node would take a place).
    text = (RECORDINGS / name).read_text()
    return Template(re.sub(r"<!--.*?-->\s*", "", text, flags=re.DOTALL))


def _attr(value: str) -> str:
    return quoteattr(value)[1:-1]  # the value escaped for a "..." attribute


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FolderRecord:
    id: str
    changekey: str
    name: str
    parent: str | None
    distinguished: str | None = None


@dataclass
class ItemRecord:
    id: str
    changekey: str
    folder: str
    raw: bytes
    received: datetime
    message_id: str
    seq: int  # arrival order in its folder
    is_read: bool = False
    flags: int = 0


@dataclass(frozen=True)
class Logged:
    operation: str
    sync_state: bool  # SyncFolderItems: a sync state was sent (not a full listing)
    auth: str  # "basic", "bearer" or "none"
    status: int
    impersonating: str | None = None


@dataclass
class _Controls:
    refuse_logins: bool = False
    busy_left: int = 0
    busy_ms: int = 0
    reject_sync_state: bool = False
    sync_error_tail: str = ""


class EwsStandIn:
    """The stand-in's mailbox and its switches; ``EwsServer`` serves it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.folders: dict[str, FolderRecord] = {}
        self.items: dict[str, ItemRecord] = {}
        self.tokens: set[str] = set()
        self.controls = _Controls()
        self.log: list[Logged] = []
        self._counter = 0
        root = self._new_folder("Root", None, "root")
        top = self._new_folder("Top of Information Store", root.id, "msgfolderroot")
        for name, distinguished in (
            ("Inbox", "inbox"),
            ("Sent Items", "sentitems"),
            ("Deleted Items", "deleteditems"),
            ("Drafts", "drafts"),
        ):
            self._new_folder(name, top.id, distinguished)

    # -- ids -------------------------------------------------------------------------------

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def _bytes(self, kind: bytes, n: int, size: int) -> bytes:
        out = b""
        seed = kind + n.to_bytes(8, "big")
        while len(out) < size:
            seed = hashlib.sha256(seed).digest()
            out += seed
        return out[:size]

    def _item_id(self) -> tuple[str, str]:
        """An id of the length and look of an Exchange 2016 item id (152 characters of
        base64, "+" and "/" included), and a change key."""
        n = self._next()
        item_id = (
            b"\x00\x03\x24\x00" + _GUID + b"\x46\x00\x00\x00\x00\x00" + self._bytes(b"i", n, 88)
        )
        changekey = b"\x09\x00\x00\x00\x16\x00\x00\x00" + self._bytes(b"c", n, 32)
        return base64.b64encode(item_id).decode(), base64.b64encode(changekey).decode()

    def _new_folder(
        self, name: str, parent: str | None, distinguished: str | None = None
    ) -> FolderRecord:
        n = self._next()
        folder_id = base64.b64encode(
            b"\x00\x01\x2e\x00" + _GUID + self._bytes(b"f", n, 26)
        ).decode()
        changekey = base64.b64encode(b"\x01\x00\x00\x00" + self._bytes(b"k", n, 16)).decode()
        record = FolderRecord(folder_id, changekey, name, parent, distinguished)
        self.folders[folder_id] = record
        return record

    # -- what the tests see and do ---------------------------------------------------------

    def folder_named(self, name: str, *, create: bool = False) -> FolderRecord:
        """A folder by display name (under Top of Information Store, or anywhere)."""
        with self.lock:
            for folder in self.folders.values():
                if folder.name.casefold() == name.casefold() or folder.distinguished == name:
                    return folder
            if not create:
                raise KeyError(name)
            return self._new_folder(name, self.distinguished("msgfolderroot").id)

    def distinguished(self, name: str) -> FolderRecord:
        return next(f for f in self.folders.values() if f.distinguished == name)

    def messages(self, folder: str) -> list[ItemRecord]:
        with self.lock:
            try:
                folder_id = self.folder_named(folder).id
            except KeyError:
                return []
            found = [i for i in self.items.values() if i.folder == folder_id]
            return sorted(found, key=lambda i: i.seq)

    def count(self, folder: str) -> int:
        return len(self.messages(folder))

    def deliver(self, raw: bytes, folder: str = "inbox", received: datetime | None = None) -> str:
        """A message arrives in ``folder`` (a display or distinguished name); its id."""
        with self.lock:
            return self._add(raw, self.folder_named(folder).id, received)

    def _add(self, raw: bytes, folder_id: str, received: datetime | None = None) -> str:
        with self.lock:
            item_id, changekey = self._item_id()
            headers = BytesHeaderParser().parsebytes(raw)
            self.items[item_id] = ItemRecord(
                id=item_id,
                changekey=changekey,
                folder=folder_id,
                raw=raw,
                received=(received or datetime.now(UTC)).replace(microsecond=0),
                message_id=str(headers.get("Message-ID", "")).strip(),
                seq=self._counter,
            )
            return item_id

    def _by_message_id(self, message_id: str, folder: str = "inbox") -> ItemRecord:
        found = [i for i in self.messages(folder) if i.message_id == message_id]
        assert len(found) == 1, f"{message_id} is not in {folder}"
        return found[0]

    def colleague_move(
        self, message_id: str, to: str = "Dealt with", *, keep_id: bool = False
    ) -> None:
        """A colleague (Outlook) moves the message to ``to``. ``keep_id``: the item keeps its
        id, as an id from before a move may still resolve on some servers."""
        with self.lock:
            item = self._by_message_id(message_id)
            target = self.folder_named(to, create=True)
            if keep_id:
                item.folder = target.id
            else:
                self._move(item, target.id)

    def colleague_delete(self, message_id: str) -> None:
        """A colleague deletes the message (Outlook moves it to Deleted Items)."""
        self.colleague_move(message_id, "Deleted Items")

    def _move(self, item: ItemRecord, folder_id: str) -> ItemRecord:
        del self.items[item.id]
        new_id, changekey = self._item_id()
        item.id, item.changekey, item.folder, item.seq = new_id, changekey, folder_id, self._counter
        self.items[new_id] = item
        return item

    def issue_token(self) -> str:
        with self.lock:
            token = "test-only-ews-token-" + secrets.token_urlsafe(12)
            self.tokens.add(token)
            return token

    def expire_tokens(self) -> None:
        """Every bearer token handed out so far is refused from now on."""
        with self.lock:
            self.tokens.clear()

    def refuse_logins(self, refuse: bool = True) -> None:
        with self.lock:
            self.controls.refuse_logins = refuse

    def busy(self, calls: int, back_off_ms: int) -> None:
        """Answer the next ``calls`` requests ErrorServerBusy with this BackOffMilliseconds."""
        with self.lock:
            self.controls.busy_left = calls
            self.controls.busy_ms = back_off_ms

    def reject_next_sync_state(self, *, with_empty_state: bool = False) -> None:
        """The next sync state sent is refused (ErrorInvalidSyncStateData). The schema lets the
        answer carry an empty SyncState and IncludesLastItemInRange or neither;
        ``with_empty_state`` chooses the first."""
        with self.lock:
            self.controls.reject_sync_state = True
            self.controls.sync_error_tail = _EMPTY_SYNC_STATE if with_empty_state else ""

    def operations(self) -> list[str]:
        with self.lock:
            return [entry.operation for entry in self.log]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()

    # -- sync states -------------------------------------------------------------------------

    def _sync_state(self, folder_id: str, known: list[str]) -> str:
        data = json.dumps({"folder": folder_id, "known": known}).encode()
        return base64.b64encode(gzip.compress(data, mtime=0)).decode()

    def _read_sync_state(self, text: str, folder_id: str) -> list[str] | None:
        try:
            data = json.loads(gzip.decompress(base64.b64decode(text, validate=True)))
        except (ValueError, OSError, EOFError):
            return None
        if not isinstance(data, dict) or data.get("folder") != folder_id:
            return None
        return [str(i) for i in data.get("known", [])]


class _Answer(Exception):
    """A whole HTTP answer other than 200 (a fault, a 401)."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers


class _Soap:
    """Answers one SOAP request from the stand-in's state (the state's lock held). Its public
    methods are named after the EWS operations they answer, and return one response message
    per folder or item asked about."""

    def __init__(self, stand_in: EwsStandIn, body: ET.Element) -> None:
        self.s = stand_in
        self.body = body

    # -- helpers -----------------------------------------------------------------------------

    def _folder_ref(self, element: ET.Element | None) -> FolderRecord | None:
        """The folder a FolderId or DistinguishedFolderId names, None if unknown."""
        if element is None:
            return None
        for child in element.iter():
            if child.tag == f"{{{T}}}FolderId":
                return self.s.folders.get(child.get("Id", ""))
            if child.tag == f"{{{T}}}DistinguishedFolderId":
                address = child.findtext(f"{{{T}}}Mailbox/{{{T}}}EmailAddress")
                if address is not None and address.casefold() != MAILBOX:
                    return None
                try:
                    return self.s.distinguished(child.get("Id", ""))
                except StopIteration:
                    return None
        return None

    def _folder_xml(self, folder: FolderRecord) -> str:
        parent = self.s.folders.get(folder.parent or "") or folder
        contents = [i for i in self.s.items.values() if i.folder == folder.id]
        return _template("folder.xml").substitute(
            id=_attr(folder.id),
            changekey=_attr(folder.changekey),
            parent_id=_attr(parent.id),
            parent_changekey=_attr(parent.changekey),
            name=escape(folder.name),
            total=len(contents),
            children=sum(1 for f in self.s.folders.values() if f.parent == folder.id),
            unread=sum(1 for i in contents if not i.is_read),
        )

    def _item_id_xml(self, item: ItemRecord) -> str:
        return _template("item-id.xml").substitute(
            id=_attr(item.id), changekey=_attr(item.changekey)
        )

    def _error(self, operation: str, code: str, text: str, tail: str = "") -> str:
        return _template("error.xml").substitute(
            operation=operation, code=code, text=escape(text), tail=tail
        )

    def _equal_to(self, field_uri: str) -> str | None:
        """The constant of a restriction ``IsEqualTo(field_uri, constant)``; a restriction
        of any other form is not modelled (the answer says so)."""
        restriction = self.body.find(f"{{{M}}}Restriction")
        if restriction is None:
            return None
        equal = restriction.find(f"{{{T}}}IsEqualTo")
        uri = equal.find(f"{{{T}}}FieldURI") if equal is not None else None
        constant = equal.find(f".//{{{T}}}Constant") if equal is not None else None
        if uri is None or constant is None or uri.get("FieldURI") != field_uri:
            raise _fault(f"the stand-in models only IsEqualTo({field_uri})")
        return constant.get("Value", "")

    def _page(self, view_tag: str, total: int) -> tuple[int, int]:
        view = self.body.find(f"{{{M}}}{view_tag}")
        offset = int(view.get("Offset", "0")) if view is not None else 0
        most = int(view.get("MaxEntriesReturned", str(total))) if view is not None else total
        return offset, min(total, offset + most)

    # -- operations --------------------------------------------------------------------------

    def GetFolder(self) -> list[str]:
        answers = []
        for ref in list(self.body.find(f"{{{M}}}FolderIds") or []):
            folder = self._folder_ref(ref)
            if folder is None:
                answers.append(
                    self._error("GetFolder", "ErrorFolderNotFound", NOT_FOUND, "<m:Folders/>")
                )
            else:
                answers.append(
                    _template("get-folder.xml").substitute(folder=self._folder_xml(folder))
                )
        return answers

    def FindFolder(self) -> list[str]:
        parent = self._folder_ref(self.body.find(f"{{{M}}}ParentFolderIds"))
        if parent is None:
            return [self._error("FindFolder", "ErrorFolderNotFound", NOT_FOUND)]
        name = self._equal_to("folder:DisplayName")
        found = [
            f
            for f in self.s.folders.values()
            if f.parent == parent.id and (name is None or f.name.casefold() == name.casefold())
        ]
        start, end = self._page("IndexedPageFolderView", len(found))
        return [
            _template("find-folder.xml").substitute(
                next_offset=end,
                total=len(found),
                last="true" if end >= len(found) else "false",
                folders="\n".join(self._folder_xml(f) for f in found[start:end]),
            )
        ]

    def CreateFolder(self) -> list[str]:
        parent = self._folder_ref(self.body.find(f"{{{M}}}ParentFolderId"))
        answers = []
        for new in self.body.iterfind(f"{{{M}}}Folders/{{{T}}}Folder"):
            name = new.findtext(f"{{{T}}}DisplayName") or ""
            siblings = [f for f in self.s.folders.values() if parent and f.parent == parent.id]
            if parent is None:
                answers.append(self._error("CreateFolder", "ErrorFolderNotFound", NOT_FOUND))
            elif any(f.name.casefold() == name.casefold() for f in siblings):
                text = "A folder with the specified name already exists."
                answers.append(
                    self._error("CreateFolder", "ErrorFolderExists", text, "<m:Folders/>")
                )
            else:
                folder = self.s._new_folder(name, parent.id)
                answers.append(
                    _template("create-folder.xml").substitute(
                        id=_attr(folder.id), changekey=_attr(folder.changekey)
                    )
                )
        return answers

    def SyncFolderItems(self) -> list[str]:
        folder = self._folder_ref(self.body.find(f"{{{M}}}SyncFolderId"))
        if folder is None:
            return [self._error("SyncFolderItems", "ErrorSyncFolderNotFound", NOT_FOUND)]
        sent_state = self.body.findtext(f"{{{M}}}SyncState")
        most = int(self.body.findtext(f"{{{M}}}MaxChangesReturned") or "100")
        known: list[str] | None = []
        if sent_state:
            known = self.s._read_sync_state(sent_state, folder.id)
            if self.s.controls.reject_sync_state:
                self.s.controls.reject_sync_state = False
                known = None
        if known is None:
            text = "Synchronization state data is corrupt or otherwise invalid."
            tail = self.s.controls.sync_error_tail
            return [self._error("SyncFolderItems", "ErrorInvalidSyncStateData", text, tail)]
        here = sorted(
            (i for i in self.s.items.values() if i.folder == folder.id), key=lambda i: i.seq
        )
        here_ids = {i.id for i in here}
        deleted = [i for i in known if i not in here_ids]
        created = [i for i in here if i.id not in set(known)]
        changes: list[str] = []
        now_known = list(known)
        for item_id in deleted[:most]:
            changes.append(_template("sync-delete.xml").substitute(id=_attr(item_id)))
            now_known.remove(item_id)
        for item in created[: max(0, most - len(changes))]:
            changes.append(
                _template("sync-create.xml").substitute(
                    id=_attr(item.id),
                    changekey=_attr(item.changekey),
                    received=_when(item.received),
                )
            )
            now_known.append(item.id)
        last = len(changes) == len(deleted) + len(created)
        return [
            _template("sync-folder-items.xml").substitute(
                sync_state=self.s._sync_state(folder.id, now_known),
                last="true" if last else "false",
                changes="\n".join(changes),
            )
        ]

    def _item_refs(self) -> list[str]:
        return [ref.get("Id", "") for ref in self.body.iterfind(f"{{{M}}}ItemIds/{{{T}}}ItemId")]

    def GetItem(self) -> list[str]:
        answers = []
        for item_id in self._item_refs():
            item = self.s.items.get(item_id)
            if item is None:
                answers.append(self._error("GetItem", "ErrorItemNotFound", NOT_FOUND, "<m:Items/>"))
                continue
            folder = self.s.folders[item.folder]
            answers.append(
                _template("get-item.xml").substitute(
                    mime_content=base64.b64encode(item.raw).decode(),
                    id=_attr(item.id),
                    changekey=_attr(item.changekey),
                    parent_id=_attr(folder.id),
                    parent_changekey=_attr(folder.changekey),
                    received=_when(item.received),
                    message_id=escape(item.message_id),
                )
            )
        return answers

    def MoveItem(self) -> list[str]:
        target = self._folder_ref(self.body.find(f"{{{M}}}ToFolderId"))
        answers = []
        for item_id in self._item_refs():
            item = self.s.items.get(item_id)
            if item is None or target is None:
                answers.append(
                    self._error("MoveItem", "ErrorItemNotFound", NOT_FOUND, "<m:Items/>")
                )
                continue
            moved = self.s._move(item, target.id)
            answers.append(_template("move-item.xml").substitute(item=self._item_id_xml(moved)))
        return answers

    def CreateItem(self) -> list[str]:
        if self.body.get("MessageDisposition") != "SaveOnly":
            raise _fault("the stand-in models only MessageDisposition=SaveOnly")
        folder = self._folder_ref(self.body.find(f"{{{M}}}SavedItemFolderId"))
        answers = []
        for message in self.body.iterfind(f"{{{M}}}Items/{{{T}}}Message"):
            if folder is None:
                answers.append(self._error("CreateItem", "ErrorFolderNotFound", NOT_FOUND))
                continue
            raw = base64.b64decode(message.findtext(f"{{{T}}}MimeContent") or "")
            item_id = self.s._add(raw, folder.id)
            item = self.s.items[item_id]
            item.is_read = message.findtext(f"{{{T}}}IsRead") in ("true", "1")
            item.flags = MSGFLAG_UNSENT  # a message made from MIME is a draft, unless told
            for prop in message.iterfind(f"{{{T}}}ExtendedProperty"):
                uri = prop.find(f"{{{T}}}ExtendedFieldURI")
                if uri is not None and int(uri.get("PropertyTag", "0"), 16) == 0x0E07:
                    item.flags = int(prop.findtext(f"{{{T}}}Value") or "0")
            answers.append(_template("create-item.xml").substitute(item=self._item_id_xml(item)))
        return answers

    def FindItem(self) -> list[str]:
        folder = self._folder_ref(self.body.find(f"{{{M}}}ParentFolderIds"))
        if folder is None:
            return [self._error("FindItem", "ErrorFolderNotFound", NOT_FOUND)]
        wanted = self._equal_to("message:InternetMessageId")
        found = [
            i
            for i in sorted(self.s.items.values(), key=lambda i: i.seq)
            if i.folder == folder.id and (wanted is None or i.message_id == wanted)
        ]
        start, end = self._page("IndexedPageItemView", len(found))
        return [
            _template("find-item.xml").substitute(
                next_offset=end,
                total=len(found),
                last="true" if end >= len(found) else "false",
                items="\n".join(self._item_id_xml(i) for i in found[start:end]),
            )
        ]

    def ConvertId(self) -> list[str]:
        # exchangelib's version probe (when no version is pinned): a dummy id, refused as
        # Exchange refuses it; the envelope's ServerVersionInfo is the answer it wants.
        text = "Id is malformed."
        return [self._error("ConvertId", "ErrorInvalidIdMalformed", text)]


def _fault(text: str) -> _Answer:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{S}"><s:Body><s:Fault><faultcode>s:Client</faultcode>'
        f"<faultstring>{escape(text)}</faultstring></s:Fault></s:Body></s:Envelope>"
    )
    return _Answer(500, body.encode(), {"Content-Type": "text/xml; charset=utf-8"})


OPERATIONS = (
    "GetFolder",
    "FindFolder",
    "CreateFolder",
    "SyncFolderItems",
    "GetItem",
    "MoveItem",
    "CreateItem",
    "FindItem",
    "ConvertId",
)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as IIS: requests reuses its connection
    server: _Server
    impersonating: str | None = None

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(length)
        try:
            status, body, headers = self._answer(data)
        except _Answer as answer:
            status, body, headers = answer.status, answer.body, answer.headers
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, data: bytes) -> tuple[int, bytes, dict[str, str]]:
        """The answer to one POST: the operation's response, or a 401, a busy fault, a 404."""
        if self.path != EWS_PATH:
            raise _Answer(404, b"Not Found", {"Content-Type": "text/plain"})
        request = self._request(data)
        stand_in = self.server.stand_in
        with stand_in.lock:
            self._gate(stand_in, request)
            try:
                messages = getattr(_Soap(stand_in, request), request.tag.split("}")[-1])()
            except (AssertionError, LookupError, TypeError, ValueError) as err:
                # A request the stand-in cannot read: a loud fault, not a dropped connection.
                raise _fault(f"the stand-in failed on {request.tag}: {err!r}") from err
        response = _template("response.xml").substitute(
            operation=request.tag.split("}")[-1], messages="\n".join(messages)
        )
        xml = _template("envelope.xml").substitute(body=response)
        return 200, xml.encode(), {"Content-Type": "text/xml; charset=utf-8"}

    def _request(self, data: bytes) -> ET.Element:
        """The operation element of the SOAP body; the SOAP header's impersonation noted."""
        try:
            envelope = ET.fromstring(data)
        except ET.ParseError as err:
            raise _fault(f"not XML: {err}") from err
        body = envelope.find(f"{{{S}}}Body")
        if body is None or not len(body):
            raise _fault("no SOAP body")
        self.impersonating = envelope.findtext(
            f"{{{S}}}Header/{{{T}}}ExchangeImpersonation/{{{T}}}ConnectingSID"
            f"/{{{T}}}PrimarySmtpAddress"
        )
        return body[0]

    def _gate(self, stand_in: EwsStandIn, request: ET.Element) -> None:
        """Log the request; raise its answer if it is refused (401), throttled (500) or of an
        operation the stand-in does not answer."""
        operation = request.tag.split("}")[-1]
        status = 200 if self._login(stand_in) else 401
        if status == 200 and stand_in.controls.busy_left > 0:
            stand_in.controls.busy_left -= 1
            status = 500
        sync_state = bool(request.findtext(f"{{{M}}}SyncState"))
        entry = Logged(operation, sync_state, self._auth_kind(), status, self.impersonating)
        stand_in.log.append(entry)
        if status == 401:
            page = (RECORDINGS / "unauthorized.html").read_bytes()
            realm = 'Basic realm="mail.southlanarkshire.gov.uk"'
            raise _Answer(401, page, {"Content-Type": "text/html", "WWW-Authenticate": realm})
        if status == 500:
            fault = _template("fault-server-busy.xml").substitute(
                back_off_ms=stand_in.controls.busy_ms
            )
            raise _Answer(500, fault.encode(), {"Content-Type": "text/xml; charset=utf-8"})
        if operation not in OPERATIONS:
            raise _fault(f"the stand-in does not answer {operation}")

    def _auth_kind(self) -> str:
        scheme = self.headers.get("Authorization", "").split(" ", 1)[0].lower()
        return scheme if scheme in ("basic", "bearer") else "none"

    def _login(self, stand_in: EwsStandIn) -> str | None:
        """Who logged in, or None: Basic with the test password, or Bearer with a token the
        stand-in issued and has not expired."""
        if stand_in.controls.refuse_logins:
            return None
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
            return user if (user, password) == (EWS_USER, EWS_PASSWORD) else None
        if scheme.lower() == "bearer" and value in stand_in.tokens:
            return EWS_USER
        return None

    def log_message(self, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    stand_in: EwsStandIn

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Close the kept-alive connections too, as a server that stops does."""
        with self.connections_lock:
            connections, self.connections = self.connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


@dataclass
class EwsServer:
    stand_in: EwsStandIn
    url: str
    ca_file: Path | None
    _server: _Server = field(repr=False)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()


@contextmanager
def ews_server(folder: Path, *, tls: bool = True) -> Iterator[EwsServer]:
    """The stand-in on a free loopback port: HTTPS with a throwaway CA (``ca_file``), or
    plain HTTP (``tls=False``)."""
    server = _Server(("127.0.0.1", 0))
    server.stand_in = EwsStandIn()
    ca_file = None
    if tls:
        folder.mkdir(parents=True, exist_ok=True)
        ca_file = _test_certificate(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    scheme = "https" if tls else "http"
    running = EwsServer(server.stand_in, f"{scheme}://127.0.0.1:{port}{EWS_PATH}", ca_file, server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running.stop()
        thread.join(timeout=10)
