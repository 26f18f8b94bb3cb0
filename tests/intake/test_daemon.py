"""The daemon end to end on a Maildir, against SQLite and a real PostgreSQL: fixture messages
become cases; bad ones are quarantined with their reasons; released ones become one case; an
answer lands on its case; the logs carry no personal data."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from intake.maildir import MaildirMailbox
from records import ledger
from records.sealing import Sealer, new_key_text
from tests.intake.mail import (
    AUTHSERV,
    MESSAGES,
    auth_results,
    fixture_message,
    from_untrusted_sender,
    simple_message,
    with_headers,
)
from tests.intake.site import Site

pytestmark = pytest.mark.slow
LATER_THAN_EVERY_FIXTURE = "2028-01-31T12:00"


def _date_of(raw: bytes) -> datetime:
    for line in raw.split(b"\n"):
        if line.lower().startswith(b"date:"):
            return parsedate_to_datetime(line[5:].decode().strip())
    raise AssertionError("fixture without a Date header")


def _expected_forms() -> list[dict[str, object]]:
    forms = []
    for path in sorted(MESSAGES.glob("*.expected.json")):
        forms.extend(json.loads(path.read_text())["forms"])
    return forms


def _signature(
    form_type: str, missing: list[str], proposal: dict[str, object], deadlines: list[dict[str, str]]
) -> tuple[object, ...]:
    due = tuple((d["id"], d["due"], d["status"]) for d in deadlines)
    return (form_type, tuple(sorted(missing)), proposal["outcome"], proposal["level"], due)


def test_fixture_messages_become_their_cases(tmp_path: Path, database_url: str) -> None:
    site = Site(tmp_path / "site", database_url)
    for path in sorted(MESSAGES.glob("*.eml")):
        raw = path.read_bytes()
        site.deliver(raw, _date_of(raw))
    # The fixtures are dated up to late 2027; the clock is set after them all, so that each
    # message's own delivery time is its receipt (a time ahead of the clock is not trusted).
    run = site.run_once("--now", LATER_THAN_EVERY_FIXTURE)
    assert run.code == 0, run.stderr
    cases = site.cli("cases", "--json").json_lines()
    expected = Counter(
        _signature(
            f["parse"]["form_type"],  # type: ignore[index]
            f["check"]["missing"],  # type: ignore[index]
            f["check"]["proposal"],  # type: ignore[index]
            f["check"]["deadlines"],  # type: ignore[index]
        )
        for f in _expected_forms()
    )
    got = Counter(
        _signature(c["form_type"], c["missing"], c["proposal"], c["deadlines"])  # type: ignore[arg-type]
        for c in cases
    )
    assert got == expected
    assert list((site.inbox / "new").iterdir()) == []
    assert len(list((site.inbox / ".Processed" / "cur").iterdir())) == len(
        list(MESSAGES.glob("*.eml"))
    )
    # A second run finds nothing new and makes nothing twice.
    assert site.run_once().code == 0
    assert len(site.cli("cases", "--json").json_lines()) == len(cases)
    _assert_no_personal_data(run.stderr)


def _assert_no_personal_data(log: str) -> None:
    assert log.strip(), "the daemon logged nothing"
    for line in log.splitlines():
        json.loads(line)  # structured: every line is one JSON object
    for form in _expected_forms():
        fields = form["parse"]["fields"]  # type: ignore[index]
        for name in ("person.surname", "person.forenames", "person.dob", "person.address"):
            value = fields.get(name)
            if not value:
                continue
            assert str(value).lower() not in log.lower(), f"{name} found in the log"
            if name == "person.dob":
                year, month, day = str(value).split("-")
                assert f"{day}/{month}/{year}" not in log


# -- quarantine --------------------------------------------------------------------------

BASE = "notification-in-text-body.eml"


def _macro_docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("word/document.xml", b"<w:document/>")
        archive.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 macro")
    return buffer.getvalue()


def _encrypted_pdf() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, encrypt="secret")
    pdf.drawString(72, 760, "MAPPA Referral Form")
    pdf.save()
    return buffer.getvalue()


def _bad_messages() -> dict[str, tuple[bytes, str]]:
    """Message-ID -> (message, the words its quarantine reason must contain)."""
    base = fixture_message(BASE)
    untrusted = from_untrusted_sender(base, "<untrusted@example.com>")
    dmarc_fail = with_headers(
        base,
        Authentication_Results=auth_results("dmarc=fail header.from=police.scot"),
        Message_ID="<dmarc-fail@police.scot>",
    )
    # Our server's verdict on top says fail; the sender's own "pass" lower down must not count.
    forged = with_headers(
        base,
        Authentication_Results=auth_results("dmarc=fail header.from=police.scot"),
        Message_ID="<forged@police.scot>",
    ).replace(
        b"\nSubject:",
        f"\nAuthentication-Results: {AUTHSERV}; dmarc=pass header.from=police.scot"
        "\nSubject:".encode(),
        1,
    )
    auto = with_headers(base, Auto_Submitted="auto-replied", Message_ID="<auto@police.scot>")
    bounce = (
        f"Authentication-Results: {AUTHSERV}; dmarc=pass header.from=police.scot\r\n"
        "From: Mail Delivery System <mailer-daemon@police.scot>\r\n"
        "To: mappa.lanarkshire@southlanarkshire.gov.uk\r\nSubject: Undeliverable\r\n"
        "Date: Mon, 16 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bounce@police.scot>\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b--\r\n"
    ).encode()
    broken = (
        f"Authentication-Results: {AUTHSERV}; dmarc=pass header.from=police.scot\r\n"
        "From: Ailsa Brodie <ailsa.brodie@police.scot>\r\nSubject: MAPPA notification\r\n"
        "Date: Mon, 16 Nov 2026 10:00:00 +0000\r\nMessage-ID: <broken@police.scot>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="never-used"\r\n\r\n'
        "Surname: TESTER\r\nno boundary ever follows\r\n"
    ).encode()
    macro = simple_message(
        message_id="<macro@police.scot>",
        attachments=(
            (
                "MAPPA-Referral.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                _macro_docx(),
            ),
        ),
    )
    oversized = simple_message(
        message_id="<oversized@police.scot>",
        attachments=(("scan.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024)),),
    )
    no_form = simple_message(message_id="<no-form@police.scot>", body="Can you call me?\n")
    encrypted = simple_message(
        message_id="<encrypted@police.scot>",
        attachments=(("MAPPA-Referral.pdf", "application/pdf", _encrypted_pdf()),),
    )
    return {
        "<untrusted@example.com>": (untrusted, "sender domain example.com is not allow-listed"),
        "<dmarc-fail@police.scot>": (dmarc_fail, "DMARC did not pass"),
        "<forged@police.scot>": (forged, "DMARC did not pass"),
        "<auto@police.scot>": (auto, "automatic reply"),
        "<bounce@police.scot>": (bounce, "delivery status notification"),
        "<broken@police.scot>": (broken, "unreadable MIME"),
        "<macro@police.scot>": (macro, "macros"),
        "<oversized@police.scot>": (oversized, "over the 1 MB limit"),
        "<no-form@police.scot>": (no_form, "no MAPPA form found"),
        "<encrypted@police.scot>": (encrypted, "password"),
    }


def test_bad_messages_are_quarantined_with_reasons(tmp_path: Path, database_url: str) -> None:
    site = Site(tmp_path / "site", database_url, settings={"limits": {"max_message_mb": 1}})
    bad = _bad_messages()
    for raw, _ in bad.values():
        site.deliver(raw)
    assert site.run_once().code == 0
    held = {e["message_id"]: e for e in site.cli("quarantine", "list", "--json").json_lines()}
    assert set(held) == set(bad)
    for message_id, (_, words) in bad.items():
        assert words in str(held[message_id]["reason"]), message_id
    assert site.cli("cases", "--json").json_lines() == []
    assert len(list((site.inbox / ".Quarantine" / "cur").iterdir())) == len(bad)
    [status] = site.cli("status", "--json").json_lines()
    assert status["quarantined"] == len(bad) and status["waiting"] == 0
    assert status["mailboxes"][0]["last_read"] is not None  # type: ignore[index]

    # Released (a person vouches for the sender): exactly one case, and only once.
    entry = str(held["<untrusted@example.com>"]["id"])
    released = site.cli("quarantine", "release", entry)
    assert released.code == 0, released.stderr
    assert "taken into MAPPA-" in released.stdout
    assert len(site.cli("cases", "--json").json_lines()) == 1
    again = site.cli("quarantine", "release", entry)
    assert again.code == 1 and "not held" in again.stderr
    assert site.cli("quarantine", "reprocess", entry).code == 1
    assert len(site.cli("cases", "--json").json_lines()) == 1

    # A document with macros stays held when reprocessed: its cause is not fixed.
    macro = str(held["<macro@police.scot>"]["id"])
    still = site.cli("quarantine", "reprocess", macro)
    assert still.code == 1 and "still held" in still.stdout
    assert len(site.cli("cases", "--json").json_lines()) == 1


# -- answers -----------------------------------------------------------------------------


def test_an_answer_lands_on_its_case_and_changes_completeness(
    tmp_path: Path, database_url: str
) -> None:
    site = Site(tmp_path / "site", database_url)
    referral = fixture_message("referral-l3-missing-manager.eml")
    site.deliver(referral, _date_of(referral))
    assert site.run_once().code == 0
    [case] = site.cli("cases", "--json").json_lines()
    assert case["missing"] == ["manager.name"]

    # The Co-ordinator asks for what is missing; the request goes out with our Message-ID.
    decided = site.cli("decide", case["ref"], "--outcome", "request_info")
    assert decided.code == 0, decided.stderr
    assert site.run_once().code == 0
    [asked] = site.cli("cases", "--json").json_lines()
    assert asked["state"] == "awaiting_information"
    request_id = next(r["message_id"] for r in asked["replies"] if r["kind"] == "request_info")

    answer = simple_message(
        sender="Lorraine Hislop <lorraine.hislop@police.scot>",
        subject=f"RE: [{case['ref']}] OFFICIAL-SENSITIVE: information needed",
        message_id="<answer.1@police.scot>",
        extra={"In-Reply-To": request_id, "References": request_id},
        body=(
            "Good afternoon,\n\nName of authorising manager: Inspector Calum Baird\n\n"
            "From: MAPPA Lanarkshire <mappa.lanarkshire@southlanarkshire.gov.uk>\n"
            "Sent: 17 November 2026 09:00\nSubject: information needed\n\n"
            "Please send the name of the authorising manager.\n"
        ),
    )
    site.deliver(answer)
    assert site.run_once().code == 0
    [after] = site.cli("cases", "--json").json_lines()
    assert after["ref"] == case["ref"]
    assert after["state"] == "awaiting_decision"  # back to the Co-ordinator
    assert after["missing"] == []
    assert after["complete"] is True
    assert after["messages"] == [case["messages"][0], "<answer.1@police.scot>"]


def test_an_answer_found_by_the_subject_alone(tmp_path: Path, database_url: str) -> None:
    site = Site(tmp_path / "site", database_url)
    referral = fixture_message("referral-l3-missing-manager.eml")
    site.deliver(referral, _date_of(referral))
    assert site.run_once().code == 0
    [case] = site.cli("cases", "--json").json_lines()
    answer = simple_message(
        subject=f"AW: Fwd: {case['ref']} manager",
        message_id="<answer.2@police.scot>",
        body="Name of authorising manager: Inspector Calum Baird\n",
    )
    site.deliver(answer)
    assert site.run_once().code == 0
    cases = site.cli("cases", "--json").json_lines()
    assert [c["ref"] for c in cases] == [case["ref"]]
    assert cases[0]["missing"] == []


def test_the_wrong_key_stops_the_daemon_and_keeps_the_mail(tmp_path: Path) -> None:
    site = Site(tmp_path / "site", f"sqlite:///{tmp_path / 'site' / 'var' / 'mappa.db'}")
    database = site.database()
    database.migrate()
    right = Sealer.from_text(site.key)
    with database.session() as session:
        ledger.claim(
            session,
            ledger.Place(MaildirMailbox(site.inbox).name, "INBOX", 1, "k1"),
            fixture_message(BASE),
            ledger.Envelope("<kept@police.scot>", None, None, None),
            right,
            datetime.now(UTC),
        )
    database.dispose()
    site.key = new_key_text()  # the operator started it with another key
    run = site.run_once()
    assert run.code == 1
    assert "cannot be opened" in run.stderr
    [status] = site.cli("status", "--json").json_lines()
    assert status["waiting"] == 1  # still claimed, not quarantined, not lost
