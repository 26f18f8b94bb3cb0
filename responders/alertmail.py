"""The operator's alert e-mail (pure): what an alert episode says, composed like every message
of ours (the protective marking in the subject and at the top and foot, our From, our
Message-ID, ``Auto-Submitted: auto-generated``, the loop header) but belonging to no case, and
carrying references only: the mailbox's name, times, counts, outbox row ids, case references.
Never a name, an address of a person or a message's words."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from responders.alertrules import MAILBOX_KINDS, AlertKind
from responders.compose import Reply, ReplyKind, Sender, Thread, compose

# Lines of the plain text are wrapped here: mail clients show it as written.
WIDTH = 76


@dataclass(frozen=True, slots=True)
class Advice:
    title: str  # the subject's words
    means: str
    to_do: str
    resolved: str  # the subject's words when the episode is over


ADVICE = {
    AlertKind.LOGIN_REFUSED: Advice(
        "mailbox login refused",
        "The mail server refused the mailbox's password or OAuth token. No mail is being read"
        " from it. The daemon tries again every 15 minutes (sooner would lock the account).",
        "Check the secret in the environment variable the configuration names"
        " (mailbox.password_env or the token source), that the account is not locked or its"
        " password expired, then restart the daemon or wait for its next try.",
        "mailbox login accepted again",
    ),
    AlertKind.MAILBOX_STALE: Advice(
        "mailbox not being read",
        "The mailbox has not been read successfully for longer than"
        " alerts.mailbox_stale_minutes: the mail server cannot be reached, or the daemon's"
        " intake has stopped. Forms sent meanwhile wait in the mailbox: none is lost.",
        "Run `mappa-intake status`; look for 'unavailable' lines in the daemon's log; check"
        " that the mail server answers from this host and that the daemon is running.",
        "mailbox read again",
    ),
    AlertKind.MAILBOX_SILENT: Advice(
        "no mail arriving",
        "No message at all has arrived in the mailbox for longer than"
        " alerts.silent_working_hours office hours of working days, although it is read."
        " Mail may not be reaching it: a changed mail route or transport rule, a full mailbox,"
        " a sender's secure e-mail set-up.",
        "Send a test message from an allow-listed domain to the mailbox and watch it arrive;"
        " check the mail server's message trace for the address.",
        "mail arriving again",
    ),
    AlertKind.OUTBOX_FAILED: Advice(
        "messages not sent",
        "Messages of ours were refused for good by the mail server, or refused by us (the"
        " recipient is outside senders.allowed_domains). They will not be sent again.",
        "See the reasons with `mappa-intake status` or the console's Outbox page; correct the"
        " address or the configuration and let the Co-ordinator decide what to send instead.",
        "",
    ),
}


@dataclass(frozen=True, slots=True)
class AlertNotice:
    kind: AlertKind
    subject: str  # the mailbox's name; "outbox"
    episode: int
    since: datetime | None
    detail: str
    at: datetime  # when the episode was raised (or cleared)
    resolved: bool = False
    items: Sequence[str] = ()  # outbox_failed: one line per message (references only)
    host: str = ""  # which server noticed


def _wrapped(text: str) -> list[str]:
    return textwrap.wrap(text, width=WIDTH, break_on_hyphens=False)


def _local(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def alert_text(notice: AlertNotice, marking: str, zone: ZoneInfo) -> str:
    advice = ADVICE[notice.kind]
    lines = [marking, ""]
    if notice.resolved:
        lines += [f"Resolved: {advice.resolved}.", ""]
    else:
        lines += [f"Alert: {advice.title}.", "", *_wrapped(advice.means), ""]
    lines += [
        f"Alert:     {notice.kind.value}, episode {notice.episode}",
        f"About:     {notice.subject}",
        f"Detail:    {notice.detail}",
    ]
    if notice.since is not None:
        lines.append(f"Since:     {_local(notice.since, zone)}")
    label = "Cleared:" if notice.resolved else "Raised:"
    lines.append(
        f"{label:<10} {_local(notice.at, zone)}" + (f" on {notice.host}" if notice.host else "")
    )
    if notice.items:
        lines += ["", *notice.items]
    if not notice.resolved:
        lines += ["", *_wrapped(f"What to do: {advice.to_do}")]
        if notice.kind in MAILBOX_KINDS:
            lines += ["", "This is sent once for this episode; another message says when it ends."]
    lines += ["", "mappa-intake", "", marking]
    return "\n".join(lines) + "\n"


def alert_title(notice: AlertNotice) -> str:
    """The subject's words (after the marking)."""
    advice = ADVICE[notice.kind]
    words = f"resolved: {advice.resolved}" if notice.resolved else f"alert: {advice.title}"
    return f"mappa-intake {words}"


def compose_alert(
    notice: AlertNotice,
    to: str,
    sender: Sender,
    *,
    message_id: str,
    now: datetime,
    zone: ZoneInfo,
) -> EmailMessage:
    """The message, ready to send (RecipientRefused outside the allow-list, as every reply):
    composed as every message of ours, as one that belongs to no case and answers none."""
    reply = Reply(
        kind=ReplyKind.ALERT,
        to=to,
        case_ref="",
        title=alert_title(notice),
        text=alert_text(notice, sender.marking, zone),
        html="",
    )
    return compose(reply, Thread(None), sender, message_id=message_id, now=now)
