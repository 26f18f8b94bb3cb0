"""Every reply kind, end to end: the fixture messages go into the mailbox, the daemon makes
their cases and acknowledges them, ``decide`` records the Co-ordinator's decisions, and the
replies arrive at a real SMTP server (aiosmtpd on loopback). Each is checked for its headers
(threading, Auto-Submitted, marking, an allow-listed recipient) and its words and dates."""

from __future__ import annotations

import email.utils
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from app.settings import SETTINGS
from intake.envelope import read_headers
from records import cases as case_records
from records.tables import Case
from tests.conftest import FIXTURES
from tests.intake.mail import simple_message, with_headers
from tests.intake.site import Site
from tests.servers import Received, SmtpSink
from triage.calendar import WorkingCalendar

# The allow-list the site runs on: the default one.
ALLOWED = next(tuple(s.default) for s in SETTINGS if s.key == "senders.allowed_domains")
OUR_DOMAIN = "southlanarkshire.gov.uk"
DECIDED_AT = "2026-11-23T10:00"  # a Monday
CALENDAR = WorkingCalendar()


def _deliver_fixtures(site: Site) -> dict[str, bytes]:
    """Every fixture message, delivered; Message-ID -> raw bytes."""
    sent = {}
    for path in sorted((FIXTURES / "messages").glob("*.eml")):
        raw = path.read_bytes()
        headers = read_headers(raw)
        assert headers.message_id is not None
        sent[headers.message_id] = raw
        site.deliver(raw, headers.sent_at)
    return sent


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _by_kind(received: list[Received]) -> dict[str, list[EmailMessage]]:
    found: dict[str, list[EmailMessage]] = {}
    for item in received:
        message = item.message
        assert item.rcpt_tos == (message["To"],)
        found.setdefault(str(message["X-MAPPA-Intake-Loop"]), []).append(message)
    return found


def _check_common(message: EmailMessage, ref: str | None) -> None:
    """What every reply of ours carries."""
    assert message["Subject"].startswith("OFFICIAL-SENSITIVE: ")
    if ref:
        assert f"[{ref}]" in message["Subject"]
    assert message["Message-ID"].endswith(f"@{OUR_DOMAIN}>")
    assert message["X-Auto-Response-Suppress"] == "All"
    recipient = email.utils.parseaddr(message["To"])[1]
    domain = recipient.rsplit("@", 1)[1]
    assert any(domain == d or domain.endswith("." + d) for d in ALLOWED)
    for part in (_text(message), _html(message)):
        assert part.count("OFFICIAL-SENSITIVE") >= 2
        if ref:
            assert ref in part


def _case_values(site: Site) -> dict[str, dict[str, Any]]:
    """Each case's fields and first message, read from the records."""
    database = site.database()
    found: dict[str, dict[str, Any]] = {}
    try:
        with database.session() as session:
            for case in session.exec(select(Case)).all():
                assert case.id is not None
                found[case.ref] = {
                    "values": case_records.merged_fields(session, case.id),
                    "messages": case_records.message_ids_of(session, case.id),
                    "received": case.received_at,
                }
    finally:
        database.dispose()
    return found


def _person(values: dict[str, Any]) -> str:
    return f"{values['person.forenames']} {values['person.surname']}"


@pytest.fixture
def site(tmp_path: Path, smtp: SmtpSink) -> Site:
    return Site(tmp_path / "site", f"sqlite:///{tmp_path / 'site' / 'var' / 'mappa.db'}", smtp=smtp)


def test_acknowledgements_then_each_decision_reply(site: Site, smtp: SmtpSink) -> None:
    sent = _deliver_fixtures(site)
    assert site.run_once().code == 0
    cases = {c["ref"]: c for c in site.cli("cases", "--json").json_lines()}
    facts = _case_values(site)

    # One acknowledgement per case, at once, threaded to the form's message.
    acks = _by_kind(smtp.received())["acknowledgement"]
    assert len(acks) == len(cases)
    for ack in acks:
        ref = ack["Subject"].split("[", 1)[1].split("]", 1)[0]
        first = facts[ref]["messages"][0]
        original = read_headers(sent[first])
        _check_common(ack, ref)
        assert ack["Auto-Submitted"] == "auto-replied"
        assert ack["In-Reply-To"] == first
        assert ack["References"].split()[-1] == first
        assert email.utils.parseaddr(ack["To"])[1] == original.from_address
        text = _text(ack)
        assert _person(facts[ref]["values"]) in text
        assert "acknowledgement of receipt only" in text
    assert site.run_once().code == 0
    assert len(smtp.received()) == len(cases)  # nothing sent twice
    smtp.clear()

    # The Co-ordinator decides each case as proposed (and overrules two).
    expected: dict[str, str] = {}
    rejected = overruled = None
    for ref, case in cases.items():
        proposal = case["proposal"]
        outcome, level = proposal["outcome"], proposal["level"]
        args = ["decide", ref, "--outcome", outcome, "--now", DECIDED_AT]
        if outcome == "accept" and rejected is None and level == 2:
            rejected = ref
            args = ["decide", ref, "--outcome", "reject", "--now", DECIDED_AT]
            args += ["--reason", "The person is not subject to statutory supervision"]
            expected[ref] = "rejection"
        elif outcome == "accept" and overruled is None and level == 3:
            overruled = ref
            args += ["--level", "2", "--reason", "The plan can be delivered at Level 2"]
            expected[ref] = "acceptance"
        elif outcome == "accept":
            args += ["--level", str(level)]
            expected[ref] = "acceptance"
        elif outcome == "redirect":
            args += ["--to", "mappa.coordinator@glasgow.gov.scot"]
            expected[ref] = "redirect"
        elif outcome == "request_info":
            if not case["missing"]:
                args += ["--reason", "whether a Level 2 referral will follow"]
            expected[ref] = "request_info"
        done = site.cli(*args)
        assert done.code == 0, (ref, done.stderr)
    assert rejected and overruled, "the fixtures have Level 2 and Level 3 acceptances"
    assert site.run_once("--now", DECIDED_AT).code == 0

    replies = {m["Subject"].split("[", 1)[1].split("]", 1)[0]: m for m in _replies(smtp)}
    assert set(replies) == set(expected)
    for ref, kind in expected.items():
        message = replies[ref]
        values = facts[ref]["values"]
        received = facts[ref]["received"].date()
        assert message["X-MAPPA-Intake-Loop"] == kind
        _check_common(message, ref)
        assert message["Auto-Submitted"] is None  # a person decided it
        assert message["In-Reply-To"] == facts[ref]["messages"][0]
        text, html = _text(message), _html(message)
        assert _person(values) in text
        if kind == "acceptance" and ref == overruled:
            assert "You referred at Level 3" in text and "at Level 2, because" in text
            assert "The plan can be delivered at Level 2" in html
        elif kind == "acceptance" and values["level.proposed"] == 3:
            t5 = CALENDAR.add_working_days(received, 5)
            assert "URGENT" in message["Subject"] and "URGENT" in text
            assert f"must be held by {_long(t5)}" in " ".join(text.split())
        elif kind == "acceptance":
            t4 = CALENDAR.add_working_days(received, 20)
            assert f"Level {values['level.proposed']}" in message["Subject"]
            if values["level.proposed"] == 2:
                assert f"held by {_long(t4)}" in " ".join(text.split())
        elif kind == "rejection":
            assert "not accepted" in message["Subject"]
            assert "  - The person is not subject to statutory supervision" in text
        elif kind == "request_info":
            needed = CALENDAR.add_working_days(date(2026, 11, 23), 5)
            assert needed == date(2026, 12, 1)  # St Andrew's Day, Monday 30 November, is a holiday
            assert "by Tuesday 1 December 2026" in text
            listed = [line[4:] for line in text.splitlines() if line.startswith("  - ")]
            assert listed, text
            for item in listed:
                assert "." not in item.split()[0]  # words, never a field name such as manager.name
            for name in cases[ref]["missing"]:
                assert name not in text
        elif kind == "redirect":
            assert message["To"] == "mappa.coordinator@glasgow.gov.scot"
            attached = [p for p in message.iter_attachments()]
            assert [p.get_content_type() for p in attached] == ["message/rfc822"]
    states = {c["ref"]: c["state"] for c in site.cli("cases", "--json").json_lines()}
    for ref, kind in expected.items():
        assert states[ref] == ("awaiting_information" if kind == "request_info" else "decided")


def _replies(sink: SmtpSink) -> list[EmailMessage]:
    return [r.message for r in sink.received()]


def _long(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def test_a_decision_refused_says_what_is_missing(site: Site, smtp: SmtpSink) -> None:
    site.deliver((FIXTURES / "messages" / "referral-l2-docx-with-documents.eml").read_bytes())
    assert site.run_once().code == 0
    [case] = site.cli("cases", "--json").json_lines()
    refused = site.cli("decide", case["ref"], "--outcome", "reject")
    assert refused.code == 1 and "--reason" in refused.stderr
    assert site.cli("decide", "MAPPA-1999-0001", "--outcome", "record").code == 1
    assert site.cli("decide", case["ref"], "--outcome", "record").code == 0
    again = site.cli("decide", case["ref"], "--outcome", "record")
    assert again.code == 1 and "already decided" in again.stderr


def test_the_secure_email_reply_goes_only_inside_the_allow_list(site: Site, smtp: SmtpSink) -> None:
    failing = simple_message(
        sender="Gordon Lennox <gordon.lennox@police.scot>",
        message_id="<insecure.1@police.scot>",
        subject="MAPPA notification",
        authenticated=False,
    )
    failing = with_headers(failing, Authentication_Results="mx.southlanarkshire.gov.uk; dmarc=fail")
    outside = simple_message(
        sender="Someone <someone@example.com>",
        message_id="<outside.1@example.com>",
        authenticated=False,
    )
    site.deliver(failing)
    site.deliver(outside)
    assert site.run_once().code == 0
    [reply] = _replies(smtp)
    _check_common(reply, None)
    assert reply["To"] == "gordon.lennox@police.scot"
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["In-Reply-To"] == "<insecure.1@police.scot>"
    assert "secure e-mail or in hard copy" in reply["Subject"]
    assert "has not been read or processed" in " ".join(_text(reply).split())
    assert len(site.cli("quarantine", "list", "--json").json_lines()) == 2
    assert site.run_once().code == 0
    assert len(smtp.received()) == 1


def _auto_reply(message: EmailMessage, *, polite: bool) -> bytes:
    """An out-of-office answer to one of our messages: ``polite`` marks itself as automatic
    (RFC 3834), the other looks like a person's reply (no marks at all)."""
    extra = {"In-Reply-To": message["Message-ID"], "References": message["Message-ID"]}
    if polite:
        extra["Auto-Submitted"] = "auto-replied"
    return simple_message(
        sender=f"Officer <{email.utils.parseaddr(message['To'])[1]}>",
        subject=("Automatic reply: " if polite else "RE: ") + str(message["Subject"]),
        message_id=f"<auto.{abs(hash(message['Message-ID']))}@police.scot>",
        extra=extra,
        body="I am out of the office until Monday.\n",
    )


@pytest.mark.parametrize("polite", [True, False], ids=["auto-submitted", "unmarked"])
def test_a_mail_loop_stops_after_one_reply(site: Site, smtp: SmtpSink, polite: bool) -> None:
    site.deliver((FIXTURES / "messages" / "referral-l2-docx-with-documents.eml").read_bytes())
    answered: set[str] = set()
    for _ in range(4):
        assert site.run_once().code == 0
        for item in smtp.received():
            message = item.message
            if message["Message-ID"] not in answered:
                answered.add(message["Message-ID"])
                site.deliver(_auto_reply(message, polite=polite))
    assert len(smtp.received()) == 1  # the acknowledgement, and nothing to the auto-replies
    assert smtp.received()[0].message["X-MAPPA-Intake-Loop"] == "acknowledgement"
    [case] = site.cli("cases", "--json").json_lines()
    held = site.cli("quarantine", "list", "--json").json_lines()
    if polite:
        assert len(held) == 1 and held[0]["kind"] == "automatic"
    else:  # it threads onto the case as an answer: recorded, never answered
        assert len(case["messages"]) == 2 and not held
