"""Health and alerts end to end: the real daemon (``mappa-intake run``), a real SMTP server
(aiosmtpd) receiving the alert e-mails, a real Dovecot refusing a wrong password.

* a mailbox that stops being readable: ``/healthz`` goes from 200 to 503, one alert arrives
  however many passes follow, and one "resolved" e-mail when it is readable again; ``/metrics``
  scraped over HTTP and parsed gives the real figures (messages received, cases by state as
  ``cases --json`` has them, quarantine, replies sent, the active alert);
* a refused password: one alert at once, not again on the next runs, resolved by a good login,
  and a new episode alerted again;
* a silent mailbox, on the clock of ``run --once --now``: office hours of working days count,
  a weekend does not; one alert, ended when mail comes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import IO, TypeVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from intake.maildir import MaildirMailbox
from responders.alerts import PASS_SECONDS
from tests.conftest import FIXTURES, Run
from tests.intake import imap_tools
from tests.intake.mail import fixture_message, from_untrusted_sender
from tests.intake.site import Site
from tests.servers import DOVECOT_PASSWORD, DOVECOT_USER, Dovecot, SmtpSink, free_port

pytestmark = pytest.mark.slow

OPERATOR = "mappa.ops@southlanarkshire.gov.uk"
NOTIFICATION = "notification-in-text-body.eml"
REFERRAL = "referral-l3-missing-manager.eml"
MARKING = "OFFICIAL-SENSITIVE"
T = TypeVar("T")


# -- helpers ----------------------------------------------------------------------------


def _alerts(smtp: SmtpSink) -> list[EmailMessage]:
    """The alert e-mails the SMTP server received, in order (not the agencies' replies)."""
    found = [r.message for r in smtp.received() if r.message["X-MAPPA-Intake-Loop"] == "alert"]
    for message in found:
        assert message["To"] == OPERATOR
    return found


def _text(message: EmailMessage) -> str:
    return str(message.get_content()).replace("\r\n", "\n")


def _subjects(smtp: SmtpSink) -> list[str]:
    return [str(m["Subject"]) for m in _alerts(smtp)]


def _assert_marked_and_impersonal(message: EmailMessage) -> None:
    """The protective marking in the subject and at the top and foot; no case reference and
    no person from the forms taken."""
    text = _text(message)
    assert str(message["Subject"]).startswith(f"{MARKING}: mappa-intake ")
    assert text.startswith(f"{MARKING}\n") and text.rstrip().endswith(MARKING)
    assert "MAPPA-20" not in str(message["Subject"])
    assert message["Auto-Submitted"] == "auto-generated"
    for name in (NOTIFICATION, REFERRAL):
        expected = json.loads(
            (FIXTURES / "messages" / name).with_suffix(".expected.json").read_text()
        )
        for form in expected["forms"]:
            for field in ("person.surname", "person.forenames", "person.dob"):
                value = form["parse"]["fields"].get(field)
                if value:
                    assert str(value).lower() not in text.lower(), field


def _wait_for(what: str, probe: Callable[[], T | None], timeout: float, log: Path) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(
        f"{what}: not within {timeout:.0f} s; daemon log: {log.read_text()[-3000:]}"
    )


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (urllib.error.URLError, ConnectionError):
        return 0, b""


def _healthz(port: int) -> tuple[int, dict[str, object]]:
    code, body = _get(port, "/healthz")
    return code, json.loads(body) if body else {}


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _metrics(port: int) -> Samples:
    """Every sample of /metrics, parsed by prometheus_client's own parser."""
    code, body = _get(port, "/metrics")
    assert code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def daemon_log(tmp_path: Path) -> Iterator[IO[bytes]]:
    with (tmp_path / "daemon.log").open("wb") as log:
        yield log


def _stop(daemon: subprocess.Popen[bytes]) -> None:
    if daemon.poll() is None:
        os.kill(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


# -- (a) a stopped mailbox; /healthz and /metrics ----------------------------------------


def test_a_stopped_mailbox_alerts_once_and_health_and_metrics_say_so(
    tmp_path: Path, smtp: SmtpSink, database_url: str, daemon_log: IO[bytes]
) -> None:
    port = free_port()
    site = Site(
        tmp_path / "site",
        database_url,
        smtp=smtp,
        settings={
            # 3 seconds: the maildir is read every half second while it can be.
            "alerts": {"to": OPERATOR, "mailbox_stale_minutes": 0.05},
            "health": {"port": port},
        },
    )
    log = tmp_path / "daemon.log"
    site.deliver(fixture_message(NOTIFICATION))
    site.deliver(fixture_message(REFERRAL))
    site.deliver(from_untrusted_sender(fixture_message(NOTIFICATION), "<untrusted@example.com>"))
    mailbox = MaildirMailbox(site.inbox).name
    daemon = site.start_daemon(stderr=daemon_log.fileno())
    try:
        # Everything taken, both acknowledgements sent, and the pass that took them ended
        # (the sending thread may send them before the reading pass notes its end).
        def all_taken() -> Samples | None:
            if _get(port, "/metrics")[0] != 200:
                return None
            samples = _metrics(port)
            received = _value(samples, "mappa_intake_messages_received_total", mailbox=mailbox)
            sent = _value(samples, "mappa_intake_replies_sent_total", kind="acknowledgement")
            read = _value(samples, "mappa_intake_mailbox_last_read_age_seconds", mailbox=mailbox)
            return samples if received == 3 and sent == 2 and read is not None else None

        samples = _wait_for("three messages taken, two replies sent", all_taken, 90, log)
        cases = site.cli("cases", "--json").json_lines()
        assert len(cases) == 2
        for state in ("awaiting_decision", "awaiting_information", "decided", "closed"):
            expected = sum(1 for c in cases if c["state"] == state)
            assert _value(samples, "mappa_intake_cases", state=state) == expected
        assert _value(samples, "mappa_intake_quarantine_held", kind="untrusted_sender") == 1
        assert (
            _value(samples, "mappa_intake_messages_quarantined_total", kind="untrusted_sender") == 1
        )
        assert _value(samples, "mappa_intake_database_up") == 1
        age = _value(samples, "mappa_intake_mailbox_last_read_age_seconds", mailbox=mailbox)
        assert age is not None and age < 60
        read_at = _value(
            samples, "mappa_intake_mailbox_last_read_timestamp_seconds", mailbox=mailbox
        )
        assert read_at is not None and abs(read_at - time.time()) < 60
        assert not any(name == "mappa_intake_alert_active" for name, _ in samples)
        code, health = _healthz(port)
        assert code == 200 and health["status"] == "ok", health
        assert _get(port, "/")[0] == 404
        assert _alerts(smtp) == []

        # The mailbox cannot be read any more.
        shutil.rmtree(site.inbox)
        site.inbox.write_text("not a Maildir\n")
        [alert] = _wait_for("the stale alert", lambda: _alerts(smtp), 30, log)
        assert alert["Subject"] == f"{MARKING}: mappa-intake alert: mailbox not being read"
        text = _text(alert)
        assert mailbox in text and "mailbox_stale, episode 1" in text
        _assert_marked_and_impersonal(alert)
        code, health = _healthz(port)
        assert code == 503 and health["status"] == "unavailable", health
        assert any("not read for" in str(r) for r in health["reasons"])  # type: ignore[attr-defined]
        samples = _metrics(port)
        assert (
            _value(samples, "mappa_intake_alert_active", kind="mailbox_stale", subject=mailbox) == 1
        )
        assert (
            _value(samples, "mappa_intake_mailbox_failing", mailbox=mailbox, kind="unreachable")
            == 1
        )
        assert _value(samples, "mappa_intake_alerts_raised_total", kind="mailbox_stale") == 1

        time.sleep(PASS_SECONDS + 2)  # more judged passes, and intake's retries
        assert len(_alerts(smtp)) == 1

        # Readable again: one "resolved" e-mail, and healthy.
        site.inbox.unlink()
        _wait_for("the resolved e-mail", lambda: len(_alerts(smtp)) == 2, 60, log)
        assert _subjects(smtp)[1] == f"{MARKING}: mappa-intake resolved: mailbox read again"
        _assert_marked_and_impersonal(_alerts(smtp)[1])
        _wait_for("a healthy /healthz", lambda: _healthz(port)[0] == 200, 10, log)
        [status] = site.cli("status", "--json").json_lines()
        assert status["alerts"] == []
        [listed] = status["mailboxes"]  # type: ignore[misc]
        assert listed["mailbox"] == mailbox and listed["failing"] is None
        assert 0 <= listed["last_read_seconds_ago"] < 60
    finally:
        _stop(daemon)
    assert len(_alerts(smtp)) == 2


# -- (b) a refused password ---------------------------------------------------------------


@dataclass
class PasswordSite(Site):
    """The test installation on Dovecot, with the password the operator gave it."""

    password: str = DOVECOT_PASSWORD

    def env(self) -> dict[str, str]:
        return {**super().env(), "MAPPA_IMAP_PASSWORD": self.password}


def test_a_refused_password_alerts_at_once_and_once_per_episode(
    tmp_path: Path, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    imap_tools.empty(dovecot)
    site = PasswordSite(
        tmp_path / "site",
        f"sqlite:///{tmp_path / 'site' / 'var' / 'mappa.db'}",
        dovecot,
        smtp=smtp,
        # No copy filed in Sent: one login per run, so one refusal and its 2 s delay.
        settings={"alerts": {"to": OPERATOR}, "mailbox": {"sent_folder": ""}},
        password="not-the-password",
    )
    mailbox = f"imap://{DOVECOT_USER}@127.0.0.1:{dovecot.imaps_port}"
    refused = f"{MARKING}: mappa-intake alert: mailbox login refused"

    for _ in range(2):
        run = site.run_once()
        assert run.code == 1 and "refused our login" in run.stderr, run.stderr
    [alert] = _alerts(smtp)
    assert alert["Subject"] == refused
    assert mailbox in _text(alert) and "login_refused, episode 1" in _text(alert)
    _assert_marked_and_impersonal(alert)
    assert "not-the-password" not in _text(alert)
    [status] = site.cli("status", "--json").json_lines()
    assert [a["kind"] for a in status["alerts"]] == ["login_refused"]  # type: ignore[attr-defined]
    assert status["mailboxes"][0]["failing"]["kind"] == "login_refused"  # type: ignore[index]

    site.password = DOVECOT_PASSWORD
    run = site.run_once()
    assert run.code == 0, run.stderr
    assert _subjects(smtp) == [
        refused,
        f"{MARKING}: mappa-intake resolved: mailbox login accepted again",
    ]
    [status] = site.cli("status", "--json").json_lines()
    assert status["alerts"] == []

    site.password = "changed-again"
    assert site.run_once().code == 1
    assert _subjects(smtp)[2:] == [refused]
    assert "login_refused, episode 2" in _text(_alerts(smtp)[2])


# -- (c) a silent mailbox -----------------------------------------------------------------


def _run_at(site: Site, when: str) -> Run:
    run = site.run_once("--now", when)
    assert run.code == 0, run.stderr
    return run


def test_a_silent_mailbox_alerts_after_working_hours_once(tmp_path: Path, smtp: SmtpSink) -> None:
    site = Site(
        tmp_path / "site",
        f"sqlite:///{tmp_path / 'site' / 'var' / 'mappa.db'}",
        smtp=smtp,
        settings={
            "alerts": {"to": OPERATOR, "silent_working_hours": 8, "working_hours": "09:00-17:00"}
        },
    )
    silent = f"{MARKING}: mappa-intake alert: no mail arriving"
    site.deliver(fixture_message(NOTIFICATION))
    _run_at(site, "2026-11-20T15:00")  # Friday: the form comes
    # Monday 10:00: 67 hours later, but 3 office hours of working days (Fri 2, Mon 1).
    _run_at(site, "2026-11-23T10:00")
    assert _alerts(smtp) == []
    # Tuesday 12:00: 13 office hours.
    _run_at(site, "2026-11-24T12:00")
    [alert] = _alerts(smtp)
    assert alert["Subject"] == silent
    text = _text(alert)
    assert "mailbox_silent, episode 1" in text and "working hours" in text
    _assert_marked_and_impersonal(alert)
    _run_at(site, "2026-11-24T14:00")
    assert len(_alerts(smtp)) == 1
    [status] = site.cli("status", "--json").json_lines()
    assert [a["kind"] for a in status["alerts"]] == ["mailbox_silent"]  # type: ignore[attr-defined]

    # Mail comes: the episode ends; a new silence is a new episode.
    site.deliver(fixture_message(REFERRAL))
    _run_at(site, "2026-11-24T14:30")
    assert _subjects(smtp) == [silent, f"{MARKING}: mappa-intake resolved: mail arriving again"]
    _run_at(site, "2026-11-25T14:00")  # 2.5 + 5 office hours: not yet
    assert len(_alerts(smtp)) == 2
    _run_at(site, "2026-11-26T09:30")  # 2.5 + 8 + 0.5
    assert _subjects(smtp)[2:] == [silent]
    assert "mailbox_silent, episode 2" in _text(_alerts(smtp)[2])


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"alerts": {"to": "ops@example.com"}}, "alerts.to: recipient domain example.com"),
        ({"alerts": {"working_hours": "17:00-09:00"}}, "alerts.working_hours:"),
        ({"alerts": {"mailbox_stale_minutes": 0}}, "alerts.mailbox_stale_minutes:"),
    ],
    ids=["alerts outside the allow-list", "office hours backwards", "no stale limit"],
)
def test_wrong_alert_settings_stop_the_daemon_with_one_line(
    tmp_path: Path, settings: dict[str, dict[str, object]], words: str
) -> None:
    site = Site(
        tmp_path / "site", f"sqlite:///{tmp_path / 'site' / 'var' / 'mappa.db'}", settings=settings
    )
    run = site.run_once()
    assert run.code == 2
    assert words in run.stderr and run.stderr.count("\n") == 1, run.stderr
