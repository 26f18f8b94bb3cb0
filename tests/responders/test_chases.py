"""Chases over the Christmas holidays, replayed day by day with ``run --once --now``.

Two information requests go out on Friday 18 December 2026. T8 (5 working days) ends on
Tuesday 29 December: 25 December, 28 December (Boxing Day's substitute) are holidays. So the
first reminder is due Wednesday 30 December; the second three working days later, Wednesday
6 January 2027 (1 January and 4 January, the substitute for 2 January, are holidays); the
escalation to the Co-ordinator two working days after that, Friday 8 January. One agency
answers after the first reminder: its chasing stops there.
"""

from __future__ import annotations

from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

from intake.envelope import read_headers
from tests.conftest import FIXTURES
from tests.intake.mail import simple_message
from tests.intake.site import Site
from tests.servers import SmtpSink

UNANSWERED = "referral-l3-missing-manager.eml"
ANSWERED = "referral-l3-pdf-document-not-sent.eml"
COORDINATOR = "mappa.coordinator@southlanarkshire.gov.uk"


def _ref(message: EmailMessage) -> str:
    return str(message["Subject"]).split("[", 1)[1].split("]", 1)[0]


def test_two_reminders_and_an_escalation_across_the_holidays(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    site = Site(tmp_path / "site", f"sqlite:///{tmp_path / 'site' / 'var' / 'mappa.db'}", smtp=smtp)
    for name in (UNANSWERED, ANSWERED):
        site.deliver((FIXTURES / "messages" / name).read_bytes())
    assert site.run_once("--now", "2026-12-18T09:30").code == 0
    cases = site.cli("cases", "--json").json_lines()
    assert len(cases) == 2 and all(c["missing"] for c in cases)
    for case in cases:
        done = site.cli(
            "decide", case["ref"], "--outcome", "request_info", "--now", "2026-12-18T10:00"
        )
        assert done.code == 0, done.stderr
    assert site.run_once("--now", "2026-12-18T10:05").code == 0
    requests = {_ref(r.message): r.message for r in smtp.received()[2:]}
    assert {m["X-MAPPA-Intake-Loop"] for m in requests.values()} == {"request_info"}
    unanswered, answered = (
        next(c["ref"] for c in cases if c["messages"][0] in _message_ids(name))
        for name in (UNANSWERED, ANSWERED)
    )
    for message in requests.values():
        text = message.get_body(("plain",))
        assert text is not None and "by Tuesday 29 December 2026" in str(text.get_content())
    smtp.clear()

    sent: list[tuple[date, str, str, str, str]] = []  # (day, case, kind, to, Message-ID)
    day = date(2026, 12, 19)
    while day <= date(2027, 1, 12):
        if day == date(2027, 1, 5):
            first_chase = next(
                mid for _, ref, kind, _, mid in sent if ref == answered and kind == "chase_first"
            )
            site.deliver(
                simple_message(
                    sender="Lorraine Hislop <lorraine.hislop@police.scot>",
                    subject=f"RE: [{answered}] Reminder",
                    message_id="<answer.7@police.scot>",
                    extra={"In-Reply-To": first_chase, "References": first_chase},
                    body="Good morning,\n\nThe report is attached.\n",
                    attachments=(("ICM Report.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n"),),
                )
            )
        assert site.run_once("--now", f"{day.isoformat()}T10:00").code == 0
        for item in smtp.received():
            message = item.message
            kind = str(message["X-MAPPA-Intake-Loop"])
            _check_follow_up(message, requests[_ref(message)], kind)
            sent.append((day, _ref(message), kind, message["To"], message["Message-ID"]))
        smtp.clear()
        day += timedelta(days=1)

    assert sorted((d, ref, kind) for d, ref, kind, _, _ in sent) == sorted(
        [
            (date(2026, 12, 30), unanswered, "chase_first"),
            (date(2026, 12, 30), answered, "chase_first"),
            (date(2027, 1, 6), unanswered, "chase_second"),
            (date(2027, 1, 8), unanswered, "escalation"),
        ]
    )
    escalation = next(to for _, _, kind, to, _ in sent if kind == "escalation")
    assert escalation == COORDINATOR
    assert all(to != COORDINATOR for _, _, kind, to, _ in sent if kind != "escalation")
    states = {c["ref"]: c["state"] for c in site.cli("cases", "--json").json_lines()}
    assert states == {unanswered: "awaiting_information", answered: "awaiting_decision"}


def _check_follow_up(message: EmailMessage, request: EmailMessage, kind: str) -> None:
    """A reminder or an escalation: automatic, marked, threaded under our request, and saying
    when we asked, by when, and what is still missing, in words."""
    ref = _ref(request)
    assert message["Subject"].startswith(f"OFFICIAL-SENSITIVE: [{ref}] ")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["In-Reply-To"] == request["Message-ID"]
    assert message["References"].split() == [*request["References"].split(), request["Message-ID"]]
    body = message.get_body(("plain",))
    assert body is not None
    text = " ".join(str(body.get_content()).split())
    assert text.count("OFFICIAL-SENSITIVE") >= 2
    assert "Friday 18 December 2026" in text and "Tuesday 29 December 2026" in text
    assert " - the " in text  # each missing item in words
    assert "manager.name" not in text and "documents.attached" not in text
    if kind == "escalation":
        assert f"Asked of: {request['To']}" in text
        assert "Reminder sent: Wednesday 30 December 2026" in text
        assert "Reminder sent: Wednesday 6 January 2027" in text
    else:
        assert message["To"] == request["To"]


def _message_ids(name: str) -> set[str]:
    found = read_headers((FIXTURES / "messages" / name).read_bytes()).message_id
    return {found} if found else set()
