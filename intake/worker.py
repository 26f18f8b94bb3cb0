"""One mailbox, exactly once: lease, claim, process, move, reconcile.

The order is what makes it safe to stop the process at any instant:

1. **claim**: the message's place, its envelope and its sealed raw bytes go into the ledger in
   one transaction. Before that commits, nothing happened; after, the bytes are ours.
2. **process**: screening, parsing and triage from the *stored* bytes; the case (or the
   quarantine entry) and the ledger's new state commit together. Claimed messages are taken
   for reading one at a time (``ledger.take_claimed``: ``FOR UPDATE SKIP LOCKED``), so the
   daemons that do not hold the mailbox's lease read some of them too.
3. **move** the message out of the watched folder, then note that it moved.

On every pass the ledger is reconciled with the mailbox first: a claimed message is processed
(even if someone has since deleted it from the mailbox), a processed one still in the folder is
moved, one that left the folder is noted. A place (mailbox, folder, UIDVALIDITY, UID) is unique
in the ledger; the same bytes with the same Message-ID at a new place (the folder was
renumbered) follow the existing row. Only the holder of the mailbox's lease claims.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from intake.envelope import read_headers
from intake.mailbox import Destination, Fetched, FolderSnapshot, Mailbox
from intake.processing import MessageProcessor
from records import leases, ledger
from records.ledger import Envelope, Place
from records.tables import InboundMessage, MessageState

log = logging.getLogger(__name__)

# A message whose processing was begun this many times without finishing (the process was
# killed each time, perhaps by the message itself: a native library's crash, the OOM killer)
# is held as "failed", so it cannot stop intake for ever. Ten leaves room for restarts that
# were nothing to do with the message.
MAX_ATTEMPTS = 10
# Moves out of the inbox are sent together: at most this many, or this long after the first.
MOVE_BATCH = 25
MOVE_BATCH_SECONDS = 2.0
# New messages claimed before they are read: other processes can read some of a batch
# meanwhile, and the first cases appear long before a large inbox is all claimed.
CLAIM_BATCH = 10


class LeaseLost(Exception):
    """Another process holds this mailbox's lease now: stop claiming at once."""


@dataclass(slots=True)
class PassReport:
    busy: bool = False  # another process holds the lease
    claimed: int = 0
    processed: int = 0
    quarantined: int = 0


class IntakeWorker:
    def __init__(
        self,
        mailbox: Mailbox,
        processor: MessageProcessor,
        *,
        stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.mailbox = mailbox
        self.processor = processor
        self.db = processor.db
        self.clock = processor.clock  # domain time (may replay the past: --now)
        self.lease = leases.HeldLease(self.db, mailbox.name)
        self.stop = stop
        self._pending: list[tuple[int, str, Destination]] = []
        self._pending_since = 0.0

    def release_lease(self) -> None:
        self.lease.release()

    # -- a pass ----------------------------------------------------------------------------

    def run_pass(self) -> PassReport:
        """Reconcile, then take everything in the folder; MailboxError propagates. When
        another process holds the mailbox, help it: read what it has claimed."""
        report = PassReport()
        if not self.lease.take():
            report.busy = True
            self._read_claimed(report)
            return report
        try:
            self._read_claimed(report)  # claimed before a stop or a crash
            self.mailbox.connect()
            snapshot = self.mailbox.snapshot()
            claimed: list[tuple[int, str]] = []
            for uid in snapshot.uids:
                if self.stop():
                    break
                if not self.lease.keep():
                    raise LeaseLost(f"mailbox {self.mailbox.name}: lease taken by another process")
                place = Place(self.mailbox.name, self.mailbox.folder, snapshot.uidvalidity, uid)
                found = self._claim_or_find(place, report)
                if found is None:
                    continue
                row_id, state = found
                if state is MessageState.CLAIMED:
                    claimed.append((row_id, uid))
                else:
                    self._queue_move(row_id, uid, state)
                if len(claimed) >= CLAIM_BATCH:
                    self._read_and_move(claimed, report)
                    claimed = []
            self._read_and_move(claimed, report)
            self._flush_moves()  # after a stop request too: what is done leaves the inbox
            if not self.stop():
                self._settle_moves(snapshot)
                with self.db.session() as session:
                    leases.mark_read(session, self.mailbox.name, leases.wall_clock())
        except LeaseLost:
            log.warning("lease lost; pass stopped", extra={"mailbox": self.mailbox.name})
        finally:
            self._pending = []  # after a failure, reconciliation moves them next pass
        return report

    def _claim_or_find(self, place: Place, report: PassReport) -> tuple[int, MessageState] | None:
        """The ledger row at ``place`` (claimed now if new) and its state; None if the
        message left the folder before it could be read."""
        with self.db.session() as session:
            row = ledger.find_at(session, place)
        if row is None:
            fetched = self.mailbox.fetch(place.uid)
            if fetched is None:
                log.info("message gone before it was read", extra={"uid": place.uid})
                return None
            row = self._claim(place, fetched)
            report.claimed += 1
        assert row.id is not None
        return row.id, row.state

    def _read_and_move(self, claimed: list[tuple[int, str]], report: PassReport) -> None:
        """Read the claimed messages (other processes may read some of them meanwhile), then
        move out those finished; one another process is still reading waits for the next
        pass's reconciliation."""
        if not claimed:
            return
        self._read_claimed(report)
        with self.db.session() as session:
            states = {
                row_id: row.state
                for row_id, _ in claimed
                if (row := session.get(InboundMessage, row_id)) is not None
            }
        for row_id, uid in claimed:
            self._queue_move(row_id, uid, states.get(row_id, MessageState.CLAIMED))

    def _read_claimed(self, report: PassReport) -> None:
        """Read this mailbox's claimed messages that no living process is reading, one at a
        time, until none is left or a stop is asked for."""
        tried: set[int] = set()
        while not self.stop():
            with self.db.session() as session:
                row = ledger.take_claimed(
                    session,
                    self.mailbox.name,
                    self.lease.holder,
                    leases.wall_clock(),
                    leases.holder_is_dead,
                    skip=tried,
                )
                if row is None:
                    return
                assert row.id is not None
                inbound_id, attempts = row.id, row.attempts
            tried.add(inbound_id)
            self._process(inbound_id, attempts, report)

    def _claim(self, place: Place, fetched: Fetched) -> InboundMessage:
        headers = read_headers(fetched.raw)
        envelope = Envelope(
            message_id=headers.message_id,
            from_address=headers.from_address,
            sent_at=headers.sent_at,
            delivered_at=fetched.delivered_at,
        )
        digest = ledger.sha256(fetched.raw)
        with self.db.session() as session:
            if not self.lease.holds(session):
                raise LeaseLost(f"mailbox {self.mailbox.name}: lease expired before a claim")
            same = ledger.find_same(session, self.mailbox.name, digest, headers.message_id)
            if same is not None:
                ledger.relocate(session, same, place)
                log.info(
                    "message seen again at a new place",
                    extra={"inbound": same.id, "uid": place.uid},
                )
                return same
            row = ledger.claim(
                session, place, fetched.raw, envelope, self.processor.sealer, self.clock()
            )
        log.info(
            "message claimed",
            extra={"inbound": row.id, "message_id": headers.message_id, "size": row.size},
        )
        return row

    def _process(self, inbound_id: int, attempts: int, report: PassReport) -> None:
        """Process a claimed message this process has taken (``attempts`` counts this one);
        if another process finished it meanwhile, nothing is done."""
        with self.db.session() as session:
            raw = ledger.raw_bytes(session, inbound_id, self.processor.sealer)
        if attempts > MAX_ATTEMPTS:
            reason = f"processing was begun {MAX_ATTEMPTS} times and never finished"
            if self.processor.hold(inbound_id, "failed", reason, MessageState.CLAIMED):
                report.quarantined += 1
            return
        outcome = self.processor.take(inbound_id, raw, expected=MessageState.CLAIMED, vouched=False)
        if outcome is None:
            return
        if outcome:
            report.processed += 1
        else:
            report.quarantined += 1

    def _queue_move(self, inbound_id: int, uid: str, state: MessageState) -> None:
        """Moves go out in batches: one MOVE command for many messages costs the server one
        transaction. A message waiting in the batch is safe: the ledger has its fate, and a
        stop before the flush leaves it for the next pass's reconciliation."""
        if state is MessageState.CLAIMED:
            return  # processing did not finish (stop requested): the next pass does it
        destination = (
            Destination.PROCESSED if state is MessageState.PROCESSED else Destination.QUARANTINE
        )
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append((inbound_id, uid, destination))
        waited = time.monotonic() - self._pending_since
        if len(self._pending) >= MOVE_BATCH or waited >= MOVE_BATCH_SECONDS:
            self._flush_moves()

    def _flush_moves(self) -> None:
        pending, self._pending = self._pending, []
        for destination in Destination:
            uids = [uid for _, uid, where in pending if where is destination]
            if uids:
                self.mailbox.move(uids, destination)
        with self.db.session() as session:
            for inbound_id, _, _ in pending:
                ledger.mark_moved(session, inbound_id, self.clock())

    def _settle_moves(self, snapshot: FolderSnapshot) -> None:
        """Messages finished in the ledger that are no longer in the folder have left it (we
        moved them before a stop, or someone else did): note it."""
        present = set(snapshot.uids)
        with self.db.session() as session:
            for row in ledger.awaiting_move(session, self.mailbox.name):
                here = row.uidvalidity == snapshot.uidvalidity and row.uid in present
                if row.folder == self.mailbox.folder and not here:
                    assert row.id is not None
                    ledger.mark_moved(session, row.id, self.clock())
