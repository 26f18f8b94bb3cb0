"""Composing replies: threading, marking, automatic-mail headers, the allow-list, the rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intake.automatic import OwnMail, classify
from intake.envelope import our_message_id, read_headers
from records.outbox import next_send_time
from responders.compose import (
    MAX_REFERENCES,
    RecipientRefused,
    Reply,
    ReplyKind,
    Sender,
    Thread,
    compose,
)

SENDER = Sender(
    from_header="MAPPA Lanarkshire <mappa.lanarkshire@southlanarkshire.gov.uk>",
    message_id_domain="southlanarkshire.gov.uk",
    marking="OFFICIAL-SENSITIVE",
    allowed_domains=("police.scot", "nhs.scot"),
)
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
THREAD = Thread("<form.1@police.scot>", ("<earlier.0@police.scot>",))


def _reply(kind: ReplyKind = ReplyKind.ACKNOWLEDGEMENT, to: str = "a.officer@police.scot") -> Reply:
    return Reply(
        kind=kind,
        to=to,
        case_ref="MAPPA-2026-0042",
        title="Receipt of your MAPPA referral",
        text="Thank you.\n",
        html="<p>Thank you.</p>",
    )


def _mid(token: str) -> str:
    return our_message_id(token, "southlanarkshire.gov.uk")


def test_threading_marking_and_our_headers() -> None:
    message = compose(_reply(), THREAD, SENDER, message_id=_mid("k1"), now=NOW)
    assert (
        message["Subject"] == "OFFICIAL-SENSITIVE: [MAPPA-2026-0042] Receipt of your MAPPA referral"
    )
    assert message["In-Reply-To"] == "<form.1@police.scot>"
    assert message["References"] == "<earlier.0@police.scot> <form.1@police.scot>"
    assert message["Message-ID"] == "<mappa-intake.k1@southlanarkshire.gov.uk>"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["To"] == "a.officer@police.scot"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.parametrize(
    ("kind", "auto"),
    [
        (ReplyKind.ACKNOWLEDGEMENT, "auto-replied"),
        (ReplyKind.SECURE_EMAIL, "auto-replied"),
        (ReplyKind.CHASE_FIRST, "auto-generated"),
        (ReplyKind.CHASE_SECOND, "auto-generated"),
        (ReplyKind.ACCEPTANCE, None),
        (ReplyKind.REQUEST_INFO, None),
    ],
)
def test_auto_submitted_says_who_wrote_it(kind: ReplyKind, auto: str | None) -> None:
    assert (
        compose(_reply(kind), THREAD, SENDER, message_id=_mid("t"), now=NOW)["Auto-Submitted"]
        == auto
    )


def test_our_message_is_recognised_when_it_comes_back() -> None:
    raw = compose(_reply(), THREAD, SENDER, message_id=_mid("t"), now=NOW).as_bytes()
    ours = OwnMail("southlanarkshire.gov.uk", ("mappa.lanarkshire@southlanarkshire.gov.uk",))
    assert classify(read_headers(raw), ours) == "our own message came back (loop header)"


@pytest.mark.parametrize(
    "address",
    ["someone@example.com", "a@police.scot.example.com", "a@police.scot, b@nhs.scot", "nobody"],
)
def test_never_outside_the_allow_list(address: str) -> None:
    with pytest.raises(RecipientRefused):
        compose(_reply(to=address), THREAD, SENDER, message_id=_mid("t"), now=NOW)


def test_sub_domains_of_an_allowed_domain_are_allowed() -> None:
    message = compose(
        _reply(to="Desk <Desk@Custody.Police.Scot>"), THREAD, SENDER, message_id=_mid("t"), now=NOW
    )
    assert message["To"] == "desk@custody.police.scot"


def test_long_reference_chains_keep_the_first_and_the_newest() -> None:
    chain = tuple(f"<m{n}@police.scot>" for n in range(40))
    message = compose(
        _reply(), Thread("<m40@police.scot>", chain), SENDER, message_id=_mid("t"), now=NOW
    )
    kept = message["References"].split()
    assert len(kept) == MAX_REFERENCES
    assert kept[0] == "<m0@police.scot>" and kept[-1] == "<m40@police.scot>"


def test_no_thread_no_in_reply_to() -> None:
    message = compose(
        _reply(ReplyKind.ESCALATION), Thread(None), SENDER, message_id=_mid("t"), now=NOW
    )
    assert message["In-Reply-To"] is None and message["References"] is None


@pytest.mark.parametrize(
    ("sent_minutes_ago", "per_hour", "wait_minutes"),
    [
        ([], 3, 0),
        ([50, 30], 3, 0),
        ([50, 30, 10], 3, 10),
        ([70, 50, 30, 10], 3, 10),
        ([59, 58, 57, 1], 2, 3),
    ],
    ids=[
        "nothing sent",
        "under the rate",
        "at the rate",
        "an old one does not count",
        "two per hour",
    ],
)
def test_at_most_n_per_recipient_per_hour(
    sent_minutes_ago: list[int], per_hour: int, wait_minutes: int
) -> None:
    sent = [NOW - timedelta(minutes=m) for m in sent_minutes_ago]
    assert next_send_time(sent, NOW, per_hour) == NOW + timedelta(minutes=wait_minutes)
