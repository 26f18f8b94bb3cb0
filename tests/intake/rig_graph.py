"""The Graph mailbox with what it talks to, for the tests every adapter must pass
(``tests/intake/test_mailbox_behaviours.py``) and the Graph adapter's own.

The peers are STAND-INS, not Microsoft's servers (neither can run here): ``tests.entra`` for
Entra ID and ``tests.intake.graph_server`` for Graph, both on loopback HTTPS with a throwaway
CA, answering with recorded response shapes. The adapter under test is the real one, with the
real msal and requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from intake.entra import GRAPH_SCOPE, EntraSettings, TokenSource
from intake.graph import GraphMailbox, GraphSettings
from intake.mailbox import CursorStore
from tests.entra import CLIENT_ID, CLIENT_SECRET, MAILBOX_USER, EntraStandIn, entra_stand_in
from tests.intake.graph_server import GraphStandIn, graph_stand_in

# The stand-in answers at once: a short poll keeps the waits of the tests short.
TEST_POLL_SECONDS = 0.2


class FileCursor:
    """A ``CursorStore`` kept in a file: it outlives the adapter, as the database's does."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saves = 0

    def load(self) -> str | None:
        return self.path.read_text() if self.path.exists() else None

    def save(self, state: str) -> None:
        self.path.write_text(state)
        self.saves += 1


@dataclass
class GraphRig:
    entra: EntraStandIn
    graph: GraphStandIn
    cursor: FileCursor

    def entra_settings(self) -> EntraSettings:
        return EntraSettings(
            tenant_id=self.entra.tenant_id,
            client_id=CLIENT_ID,
            authority_url=self.entra.url,
            ca_file=self.entra.ca_file,
        )

    def settings(self, **changes: object) -> GraphSettings:
        values: dict[str, object] = {
            "user": MAILBOX_USER,
            "graph_url": self.graph.url,
            "ca_file": self.entra.ca_file,
            "poll_seconds": TEST_POLL_SECONDS,
        }
        values.update(changes)
        return GraphSettings(**values)  # type: ignore[arg-type]

    def tokens(self, secret: str = CLIENT_SECRET, scope: str = GRAPH_SCOPE) -> TokenSource:
        return TokenSource(self.entra_settings(), lambda: secret, (scope,))

    def make(self, cursor: CursorStore | None = None, **changes: object) -> GraphMailbox:
        """A new adapter, as after a restart: new tokens, the cursor saved before (the rig's
        file, unless another store is given: the database's)."""
        return GraphMailbox(self.settings(**changes), self.tokens(), cursor or self.cursor)

    def deliver(self, raw: bytes) -> None:
        self.graph.deliver(raw)

    def count(self, folder: str) -> int:
        """Messages in "inbox", "processed" or "quarantine"."""
        s = self.settings()
        names = {"inbox": "inbox", "processed": s.processed_folder}
        names["quarantine"] = s.quarantine_folder
        return self.graph.count(names[folder])

    def move_away(self, message_id: str) -> None:
        """A colleague moves the message with this Message-ID to a folder of their own."""
        self.graph.move(self.graph.by_message_id(message_id).id, "Colleague")

    def delete(self, message_id: str) -> None:
        """A colleague deletes the message with this Message-ID for good."""
        self.graph.delete(self.graph.by_message_id(message_id).id)

    def expire_token(self) -> None:
        self.entra.revoke_all()

    def refuse_credentials(self) -> None:
        self.entra.refuse_secret(True)

    def accept_credentials(self) -> None:
        self.entra.refuse_secret(False)


@contextmanager
def graph_rig(tmp_path: Path) -> Iterator[GraphRig]:
    folder = tmp_path / "graph-stand-in"
    with ExitStack() as stack:
        entra = stack.enter_context(entra_stand_in(folder))
        graph = stack.enter_context(graph_stand_in(entra, folder))
        yield GraphRig(entra, graph, FileCursor(tmp_path / "graph-cursor.json"))
