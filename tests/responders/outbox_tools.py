"""Filling the outbox for the sender's SIGKILL test and bench/reply.py: one real case (a
fixture referral taken by the daemon, its acknowledgement sent), then ``count`` more replies
queued on it, each with its own key and Message-ID, to the address the form came from."""

from __future__ import annotations

from sqlmodel import select

from records import outbox
from records.tables import Case
from tests.conftest import FIXTURES
from tests.intake.site import Site
from tests.servers import SmtpSink

FORM = FIXTURES / "messages" / "referral-l2-docx-with-documents.eml"


def queue_replies(site: Site, sink: SmtpSink, count: int) -> None:
    """Leaves the sink empty and ``count`` replies waiting in the outbox."""
    site.deliver(FORM.read_bytes())
    assert site.run_once().code == 0
    [ack] = sink.received()
    database = site.database()
    try:
        with database.session() as session:
            case = session.exec(select(Case)).one()
            assert case.id is not None
            for step in range(1, count + 1):
                outbox.queue(
                    session,
                    key=outbox.outbox_key(case.ref, "acknowledgement", step),
                    kind="acknowledgement",
                    recipient=ack.rcpt_tos[0],
                    now=case.created_at,
                    message_id_domain="southlanarkshire.gov.uk",
                    case_id=case.id,
                    step=step,
                )
    finally:
        database.dispose()
    sink.clear()
