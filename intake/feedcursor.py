"""Where a folder's change feed left off (a Graph delta link, an EWS sync state) and the ids
the folder held then, kept through a ``CursorStore`` so a restart goes on from there.

Shared by the adapters that read a folder by its changes (intake/graph.py, intake/ews.py). The
cursor is only a cache: an unreadable one costs one full listing, never a message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from intake.mailbox import CursorStore

CURSOR_VERSION = 2


@dataclass(slots=True)
class FeedCursor:
    folder_id: str
    position: str  # the delta link or sync state; "" before the first round
    ids: dict[str, str] = field(default_factory=dict)  # id -> received (ISO-8601 UTC)

    def listing(self) -> tuple[str, ...]:
        # Oldest first, as the worker takes them; ISO-8601 UTC text sorts as time does, and
        # the stable sort keeps the order first seen for messages of the same second.
        return tuple(sorted(self.ids, key=lambda i: self.ids[i]))

    def dump(self) -> str:
        data = {
            "version": CURSOR_VERSION,
            "folder": self.folder_id,
            "position": self.position,
            "ids": self.ids,
        }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str) -> FeedCursor | None:
        """The cursor saved before, or None if it is unreadable (a full listing then)."""
        try:
            data = json.loads(text)
            if data.get("version") != CURSOR_VERSION:
                return None
            ids = {str(k): str(v) for k, v in dict(data["ids"]).items()}
            return cls(str(data["folder"]), str(data["position"]), ids)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


class CursorKeeper:
    """The cursor in memory, read from the store once, written back only when it changed."""

    def __init__(self, store: CursorStore) -> None:
        self._store = store
        self._loaded = False
        self._saved: str | None = None  # the text last read or saved
        self.state: FeedCursor | None = None

    def current(self) -> FeedCursor | None:
        if not self._loaded:
            self._loaded = True
            self._saved = self._store.load()
            self.state = FeedCursor.parse(self._saved) if self._saved else None
        return self.state

    def keep(self, state: FeedCursor) -> None:
        self.state = state
        text = state.dump()
        if text != self._saved:
            self._store.save(text)
            self._saved = text
