"""The messages of the tests that kill daemons at random (tests/intake/test_sigkill.py,
test_workers.py), and what became of each in a site's ledger: its ledger rows, the cases it
became, whether it was held, and the acknowledgements of the cases."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa

from tests.intake.mail import fixture_message, from_untrusted_sender, with_headers
from tests.intake.site import Site


def numbered_message(tag: str, n: int, untrusted_every: int) -> bytes:
    """Message ``n`` of a run, ``<tag.n@police.scot>``: a notification in its body, or, one in
    ``untrusted_every``, the same from a domain off the allow-list (to be quarantined)."""
    raw = with_headers(
        fixture_message("notification-in-text-body.eml"), Message_ID=f"<{tag}.{n}@police.scot>"
    )
    return from_untrusted_sender(raw) if n % untrusted_every == 0 else raw


@dataclass(frozen=True)
class Outcomes:
    rows: list[tuple[str, str, str, str | None]]  # message_id, state, mailbox, taken_by
    cases_per_message: dict[str, int]
    held: Counter[str]
    cases: int
    acknowledgements: Counter[int]  # case id -> acknowledgements queued

    @property
    def per_message(self) -> Counter[str]:
        return Counter(message_id for message_id, *_ in self.rows)

    @property
    def states(self) -> dict[str, str]:
        return {message_id: state for message_id, state, *_ in self.rows}

    def check_each_once(self, expected: set[str]) -> None:
        """Every message is in the ledger once, as one case or one quarantine entry, never
        both, never neither."""
        assert set(self.per_message) == expected
        assert all(count == 1 for count in self.per_message.values())
        for message_id in expected:
            as_case = self.cases_per_message.get(message_id, 0)
            assert (as_case, self.held[message_id]) in ((1, 0), (0, 1)), message_id
            assert self.states[message_id] == ("processed" if as_case else "quarantined")


def outcomes(site: Site) -> Outcomes:
    engine = sa.create_engine(site.database_url)
    try:
        with engine.connect() as db:
            rows = db.execute(
                sa.text("SELECT message_id, state, mailbox, taken_by FROM inbound_message")
            ).all()
            cases_per_message = dict(
                db.execute(
                    sa.text(
                        "SELECT i.message_id, COUNT(DISTINCT f.case_id) FROM inbound_message i"
                        " JOIN form f ON f.inbound_id = i.id GROUP BY i.message_id"
                    )
                ).all()
            )
            held = Counter(
                message_id
                for (message_id,) in db.execute(
                    sa.text(
                        "SELECT i.message_id FROM quarantine_entry q"
                        " JOIN inbound_message i ON i.id = q.inbound_id"
                    )
                ).all()
            )
            acknowledgements = Counter(
                case_id
                for (case_id,) in db.execute(
                    sa.text("SELECT case_id FROM outbound_message WHERE kind = 'acknowledgement'")
                ).all()
            )
            cases = db.execute(sa.text('SELECT COUNT(*) FROM "case"')).scalar_one()
    finally:
        engine.dispose()
    return Outcomes(
        [tuple(r) for r in rows],  # type: ignore[misc]
        cases_per_message,
        held,
        cases,
        acknowledgements,
    )
