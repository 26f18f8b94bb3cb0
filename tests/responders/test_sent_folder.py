"""A copy of every reply in the mailbox's Sent folder on the real Dovecot, filed once: a
second pass, or a sender stopped after the APPEND (its row left "filing"), finds it there."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from tests.conftest import FIXTURES
from tests.intake import imap_tools
from tests.intake.site import Site
from tests.servers import Dovecot, SmtpSink


def test_replies_are_filed_once_in_the_sent_folder(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpSink
) -> None:
    imap_tools.empty(dovecot)
    site = Site(
        tmp_path / "site",
        f"sqlite:///{tmp_path / 'site' / 'var' / 'mappa.db'}",
        dovecot,
        smtp=smtp,
        settings={"mailbox": {"sent_folder": "Sent Items"}},
    )
    site.deliver((FIXTURES / "messages" / "referral-l2-docx-with-documents.eml").read_bytes())
    assert site.run_once().code == 0
    [ack] = smtp.received()
    assert imap_tools.count(dovecot, "Sent Items") == 1
    with imap_tools.client(dovecot) as connection:
        connection.select_folder("Sent Items", readonly=True)
        [uid] = connection.search(["HEADER", "Message-ID", ack.message["Message-ID"]])
        flags = connection.get_flags([uid])[uid]
    assert b"\\Seen" in flags
    [case] = site.cli("cases", "--json").json_lines()
    assert [r["state"] for r in case["replies"]] == ["filed"]

    # A sender stopped after the APPEND, before noting it: the row is left "filing".
    database = site.database()
    with database.session() as session:
        session.exec(sa.text("UPDATE outbound_message SET state = 'filing'"))  # type: ignore[call-overload]
    database.dispose()
    assert site.run_once().code == 0
    assert imap_tools.count(dovecot, "Sent Items") == 1
    assert len(smtp.received()) == 1
    [case] = site.cli("cases", "--json").json_lines()
    assert [r["state"] for r in case["replies"]] == ["filed"]
