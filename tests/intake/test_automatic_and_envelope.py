"""Mail no person wrote (never a form), our own headers stripped, replies recognised."""

from __future__ import annotations

import pytest

from intake.automatic import OwnMail, classify
from intake.envelope import our_message_id, read_headers, strip_our_headers
from tests.intake.mail import simple_message

OURS = OwnMail("southlanarkshire.gov.uk", ("mappa.lanarkshire@southlanarkshire.gov.uk",))


@pytest.mark.parametrize(
    ("extra", "sender", "message_id", "expected"),
    [
        ({}, None, None, None),
        ({"Auto-Submitted": "no"}, None, None, None),
        (
            {"Auto-Submitted": "auto-replied"},
            None,
            None,
            "automatic reply (Auto-Submitted: auto-replied)",
        ),
        (
            {"X-Auto-Response-Suppress": "All"},
            None,
            None,
            "automatic reply (X-Auto-Response-Suppress)",
        ),
        ({"Precedence": "bulk"}, None, None, "automatic or bulk mail (Precedence: bulk)"),
        ({"X-Autoreply": "yes"}, None, None, "automatic reply (X-Autoreply)"),
        ({"Return-Path": "<>"}, None, None, "delivery status notification (null Return-Path)"),
        (
            {},
            "Mail Delivery System <MAILER-DAEMON@police.scot>",
            None,
            "delivery status notification (from the mail system)",
        ),
        ({"List-Id": "<news.police.scot>"}, None, None, "mailing-list message (List-Id)"),
        ({"X-MAPPA-Intake-Loop": "1"}, None, None, "our own message came back (loop header)"),
        (
            {},
            None,
            our_message_id("abc", "southlanarkshire.gov.uk"),
            "our own message came back (our Message-ID)",
        ),
        ({}, None, "<AM0PR01MB.1@southlanarkshire.gov.uk>", None),
        (
            {},
            "MAPPA <mappa.lanarkshire@southlanarkshire.gov.uk>",
            None,
            "our own message came back (sent from our address)",
        ),
    ],
    ids=[
        "a person's message",
        "auto-submitted no",
        "out of office",
        "exchange auto-reply",
        "bulk",
        "x-autoreply",
        "null return-path",
        "mailer-daemon",
        "list",
        "loop header",
        "our message-id",
        "a colleague's message-id in our domain",
        "our address",
    ],
)
def test_classify(
    extra: dict[str, str], sender: str | None, message_id: str | None, expected: str | None
) -> None:
    raw = simple_message(
        extra=extra,
        sender=sender or "Ailsa Brodie <ailsa.brodie@police.scot>",
        message_id=message_id or "<note.0001@police.scot>",
    )
    assert classify(read_headers(raw), OURS) == expected


def test_a_dsn_report_is_a_bounce() -> None:
    raw = (
        b"From: postmaster@nhs.scot\r\nTo: mappa@southlanarkshire.gov.uk\r\n"
        b"Subject: Undeliverable\r\nMessage-ID: <dsn.1@nhs.scot>\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b--\r\n"
    )
    assert classify(read_headers(raw), OURS) == "delivery status notification (bounce)"


def test_our_headers_are_stripped_and_the_rest_kept() -> None:
    raw = (
        b"From: a@police.scot\r\nX-MAPPA-Case: MAPPA-2026-0001\r\n  folded on\r\n"
        b"Subject: hello\r\nx-mappa-trusted: yes\r\n\r\nX-MAPPA-Body: stays\r\n"
    )
    assert strip_our_headers(raw) == (
        b"From: a@police.scot\r\nSubject: hello\r\n\r\nX-MAPPA-Body: stays\r\n"
    )


@pytest.mark.parametrize(
    "subject",
    [
        "Re: [MAPPA-2026-0042] Request for information",
        "RE: RE: [MAPPA-2026-0042] Request for information",
        "AW: [mappa-2026-0042]",
        "Fwd: MAPPA-2026-0042 further information",
    ],
)
def test_case_reference_in_the_subject(subject: str) -> None:
    headers = read_headers(simple_message(subject=subject))
    assert headers.case_ref() == "MAPPA-2026-0042"


def test_thread_ids_nearest_first() -> None:
    raw = simple_message(extra={"In-Reply-To": "<c@x>", "References": "<a@x> <b@x> <c@x>"})
    assert read_headers(raw).thread_ids == ("<c@x>", "<b@x>", "<a@x>")
