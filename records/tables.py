"""The schema: every table mappa-intake keeps. Migrations in ``records/migrations`` build it.

Two halves:

* the **ledger** of what came in: ``InboundMessage`` (one row per message, whatever became of
  it), ``StoredBlob`` (its raw bytes and attachments, sealed), ``QuarantineEntry`` and
  ``MailboxLease``;
* the **console's** people: ``ConsoleUser`` with a role, ``ConsoleSession`` (server-side, so
  a logout or a disabled account ends it at once), ``OneTimeLogin`` links, the append-only
  ``AuditEntry`` of who viewed and did what, and ``FieldCorrection`` (a person's value for a
  field, kept apart from the parser's);
* the **casework**: ``Case`` with its ``Form`` and ``FormField`` rows, each triage result
  (``Proposal`` and its ``DeadlineRow``), the Co-ordinator's ``Decision`` (kept apart from the
  proposal), ``OutboundMessage`` (our own Message-IDs, so replies find their case) and the
  append-only ``Event`` log from which every indicator of domain.md §8 is computed.

Times are stored in UTC (``UtcDateTime``); dates of the domain (due dates) as dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored as naive UTC: SQLite keeps no zone, PostgreSQL would keep
    the session's; storing UTC everywhere makes both return the same instant."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _utc(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=sa.Column(UtcDateTime(), nullable=nullable, index=index))


def _enum(kind: type[StrEnum], length: int) -> Any:
    """A StrEnum column stored as its value in a VARCHAR, read back as the enum member."""
    return sa.Enum(
        kind,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )


def _json(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(sa.JSON(), nullable=nullable))


class MessageState(StrEnum):
    CLAIMED = "claimed"  # in the ledger with its raw bytes; not yet parsed
    PROCESSED = "processed"  # made into (or added to) a case
    QUARANTINED = "quarantined"  # held with a reason, unprocessed


class CaseState(StrEnum):
    AWAITING_DECISION = "awaiting_decision"
    AWAITING_INFORMATION = "awaiting_information"
    DECIDED = "decided"
    CLOSED = "closed"


class QuarantineState(StrEnum):
    HELD = "held"
    RELEASED = "released"  # let through by a person: the sender checks were skipped
    REPROCESSED = "reprocessed"  # run through the whole intake again, and taken
    DELETED = "deleted"  # its stored bytes dropped by a person, with a reason (audited)


class InboundMessage(SQLModel, table=True):
    """One message as the ledger knows it. Its place in the mailbox is unique; the sha256
    and Message-ID recognise the same message seen again at another place (a UIDVALIDITY
    change, a copy put back in the inbox)."""

    __tablename__ = "inbound_message"
    __table_args__ = (
        sa.UniqueConstraint("mailbox", "folder", "uidvalidity", "uid", name="uq_inbound_place"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mailbox: str = Field(max_length=200)
    folder: str = Field(max_length=200)
    uidvalidity: int = Field(sa_type=sa.BigInteger)
    uid: str = Field(max_length=200)  # IMAP UID as text; a Maildir key; an EWS item id
    message_id: str | None = Field(default=None, max_length=998, index=True)
    sha256: str = Field(max_length=64, index=True)
    size: int
    from_address: str | None = Field(default=None, max_length=320)
    sent_at: datetime | None = _utc(nullable=True)  # the Date header
    delivered_at: datetime | None = _utc(nullable=True)  # the server's (IMAP INTERNALDATE)
    received_at: datetime = _utc()  # when we claimed it
    state: MessageState = Field(sa_type=_enum(MessageState, 20), index=True)
    attempts: int = 0  # processing attempts begun; a message that keeps killing us stops
    moved_at: datetime | None = _utc(nullable=True)  # left the inbox (processed/quarantine)
    # Which process is reading a claimed message, until when (records/ledger.take_claimed):
    # several daemons share the parsing; one that dies hands its message on (added in 0004).
    taken_by: str | None = Field(default=None, max_length=200)
    taken_until: datetime | None = _utc(nullable=True)


class StoredBlob(SQLModel, table=True):
    """Sealed bytes: a message's raw RFC 5322 bytes (``kind`` "raw") or one attachment."""

    __tablename__ = "stored_blob"

    id: int | None = Field(default=None, primary_key=True)
    inbound_id: int = Field(foreign_key="inbound_message.id", index=True)
    kind: str = Field(max_length=20)  # "raw" | "attachment"
    name: str = Field(default="", max_length=300)
    sha256: str = Field(max_length=64)
    size: int
    key_id: str = Field(max_length=16)  # which key sealed it (for rotation); "" once purged
    sealed: bytes = Field(sa_type=sa.LargeBinary)
    # Its bytes removed under the retention policy (records/retention.py), the row kept as
    # the record of what came (added in 0004).
    purged_at: datetime | None = _utc(nullable=True)


class QuarantineEntry(SQLModel, table=True):
    __tablename__ = "quarantine_entry"

    id: int | None = Field(default=None, primary_key=True)
    inbound_id: int = Field(foreign_key="inbound_message.id", unique=True)
    kind: str = Field(max_length=40)  # untrusted_sender, automatic, unreadable, no_form, ...
    reason: str = Field(max_length=1000)
    state: QuarantineState = Field(sa_type=_enum(QuarantineState, 20), index=True)
    created_at: datetime = _utc()
    resolved_at: datetime | None = _utc(nullable=True)


class MailboxLease(SQLModel, table=True):
    """Who may take messages from one mailbox, until when (records/leases.py)."""

    __tablename__ = "mailbox_lease"

    mailbox: str = Field(primary_key=True, max_length=200)
    holder: str = Field(max_length=200)
    expires_at: datetime = _utc()
    last_read_at: datetime | None = _utc(nullable=True)


class MailboxCursor(SQLModel, table=True):
    """Where an adapter that reads a folder by its changes left off (records/cursors.py)."""

    __tablename__ = "mailbox_cursor"

    mailbox: str = Field(primary_key=True, max_length=200)
    folder: str = Field(primary_key=True, max_length=200)
    state: str = Field(sa_type=sa.Text)  # the adapter's JSON: sync state or delta link, ids
    saved_at: datetime = _utc()


class MailboxHealth(SQLModel, table=True):
    """What the daemon learnt about reaching one mailbox beyond its last good read
    (``MailboxLease.last_read_at``): its last failed read, the OAuth token's expiry, and since
    when it is watched for silence (records/health.py; added in 0004). Failure times are on the
    real clock like the lease; ``watched_since`` on the domain clock like ``received_at``."""

    __tablename__ = "mailbox_health"

    mailbox: str = Field(primary_key=True, max_length=200)
    failure_kind: str = Field(default="", max_length=20)  # login_refused | unreachable
    failed_at: datetime | None = _utc(nullable=True)  # the last failed read
    failing_since: datetime | None = _utc(nullable=True)  # its first failure since a good read
    token_expires_at: datetime | None = _utc(nullable=True)
    watched_since: datetime | None = _utc(nullable=True)


class AlertState(SQLModel, table=True):
    """One alert episode (records/health.py; added in 0004): raised once when its condition
    began, cleared when it ended; one e-mail per episode. (kind, subject, episode) is unique,
    so two daemons that see the condition at once raise it once."""

    __tablename__ = "alert_state"
    __table_args__ = (sa.UniqueConstraint("kind", "subject", "episode", name="uq_alert_episode"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=30)  # mailbox_stale, login_refused, mailbox_silent, ...
    subject: str = Field(max_length=200)  # the mailbox's name; "outbox"
    episode: int  # 1, 2, ... for each kind and subject
    since: datetime | None = _utc(nullable=True)  # when the condition's facts began
    detail: str = Field(default="", max_length=500)  # references only, never personal data
    outbox_upto: int | None = None  # outbox_failed: the newest outbox row it covers
    raised_at: datetime = _utc()
    cleared_at: datetime | None = _utc(nullable=True)


class CaseCounter(SQLModel, table=True):
    """The last case number given in each year (MAPPA-YYYY-NNNN)."""

    __tablename__ = "case_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0


class Case(SQLModel, table=True):
    __tablename__ = "case"

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=20, unique=True)
    state: CaseState = Field(sa_type=_enum(CaseState, 30), index=True)
    form_type: str = Field(max_length=20)
    category: str | None = Field(default=None, max_length=40)
    agency: str | None = Field(default=None, max_length=20)
    # The person's identifiers as the forms give them, to find the case again.
    pnc: str | None = Field(default=None, max_length=20, index=True)
    chs: str | None = Field(default=None, max_length=30)
    cro: str | None = Field(default=None, max_length=30)
    chi: str | None = Field(default=None, max_length=10)
    sps_number: str | None = Field(default=None, max_length=30)
    visor_ref: str | None = Field(default=None, max_length=30)
    # domain.md §1: ViSOR is to be replaced by MAPPS; the Co-ordinator records its reference.
    mapps_ref: str | None = Field(default=None, max_length=30)
    received_at: datetime = _utc()  # receipt of the first form: T4/T5 count from here
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    # The console queue's sort keys, kept by records.cases.refresh_queue_keys whenever triage
    # or a decision changes them (added in 0003), so the queue of thousands of cases is one
    # indexed query: the earliest unmet T1-T5 due date, the level in force (decided, else
    # proposed), and the confidence of the weakest field.
    next_due: date | None = Field(default=None, index=True)
    next_due_timescale: str | None = Field(default=None, max_length=4)
    level: int | None = None
    weakest_confidence: float | None = None
    # When the case was closed (state "closed"): the retention policy counts from it (0004).
    closed_at: datetime | None = _utc(nullable=True)


class Form(SQLModel, table=True):
    __tablename__ = "form"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    inbound_id: int = Field(foreign_key="inbound_message.id", index=True)
    source: str = Field(max_length=400)  # "message#attachment:referral.pdf"
    form_type: str = Field(max_length=20)
    warnings: list[str] = _json()
    attachments: list[str] = _json()  # the other attachments of its message
    created_at: datetime = _utc()


class FormField(SQLModel, table=True):
    __tablename__ = "form_field"

    id: int | None = Field(default=None, primary_key=True)
    form_id: int = Field(foreign_key="form.id", index=True)
    name: str = Field(max_length=60)
    value: Any = _json()
    confidence: float
    evidence: str = Field(max_length=300)


class Proposal(SQLModel, table=True):
    """One triage result for a case: completeness and the proposed outcome. Each re-run adds
    a row; the newest is current, the older ones are the history."""

    __tablename__ = "proposal"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    complete: bool
    missing: list[str] = _json()
    outcome: str = Field(max_length=20)
    level: int | None = None
    reasons: list[str] = _json()
    # Each missing item's reason, in the order of ``missing`` (added in 0002: older rows
    # have none).
    missing_reasons: list[str] | None = _json(nullable=True)
    created_at: datetime = _utc()


class DeadlineRow(SQLModel, table=True):
    __tablename__ = "deadline"

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    timescale: str = Field(max_length=4)  # T1 ... T9
    start: date
    due: date
    status: str = Field(max_length=10)


class Decision(SQLModel, table=True):
    """The Co-ordinator's (or deputy's) decision: apart from the proposal it may overrule."""

    __tablename__ = "decision"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    outcome: str = Field(max_length=20)
    level: int | None = None
    note: str = Field(default="", max_length=2000)  # the Co-ordinator's own: never sent
    # What the reply tells the agency: the reasons of a rejection, of another level, of a
    # redirect; items asked for besides the missing fields (added in 0002).
    reasons: list[str] | None = _json(nullable=True)
    decided_by: str = Field(max_length=200)
    decided_at: datetime = _utc()
    # The reply's text as the Co-ordinator edited it in the console before approving it;
    # None sends the template's words (added in 0003).
    reply_text: str | None = Field(default=None, sa_type=sa.Text)


class OutboxState(StrEnum):
    QUEUED = "queued"  # waiting to be sent (``not_before`` says from when)
    SENDING = "sending"  # the SMTP DATA exchange was begun: the server may have it
    SENT = "sent"  # the server accepted it
    FILING = "filing"  # its copy's APPEND to the Sent folder was begun: look before another
    FILED = "filed"  # sent, and a copy is in the mailbox's Sent folder
    CANCELLED = "cancelled"  # no longer wanted (a chase after the answer came)
    REFUSED = "refused"  # never to be sent: the recipient is not allow-listed
    FAILED = "failed"  # the server refused it for good (5xx)


class OutboundMessage(SQLModel, table=True):
    """The outbox: one row per message we send (or will send). ``key`` is the idempotency
    key (case, reply kind, step): queueing the same reply twice finds the row already there.
    Its Message-ID is made from the key, so a message sent again after a crash carries the
    same one, and an agency's answer finds the case by it (In-Reply-To / References)."""

    __tablename__ = "outbound_message"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    decision_id: int | None = Field(default=None, foreign_key="decision.id")
    kind: str = Field(max_length=40)  # acknowledgement, request_info, ...
    step: int = 0  # which request a chase follows; 0 for a one-off reply
    recipient: str = Field(default="", max_length=320)
    message_id: str = Field(max_length=998, unique=True)
    state: str = Field(max_length=20, index=True)  # an OutboxState
    not_before: datetime = _utc()  # the per-recipient rate, or a retry, holds it until then
    attempts: int = 0  # sending attempts that failed for a while (connection, 4xx)
    data_attempts: int = 0  # SMTP DATA exchanges begun: the only source of a duplicate
    key_id: str | None = Field(default=None, max_length=16)
    sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)  # the composed message
    error: str = Field(default="", max_length=500)
    created_at: datetime = _utc()
    sent_at: datetime | None = _utc(nullable=True)
    filed_at: datetime | None = _utc(nullable=True)
    # The composed copy (``sealed``) removed under the retention policy (added in 0004).
    purged_at: datetime | None = _utc(nullable=True)
    # Several senders share the outbox (records/outbox.py, added in 0005): the sender working
    # on the row and until when; and when the row took its place in the recipient's rate.
    taken_by: str | None = Field(default=None, max_length=200)
    taken_until: datetime | None = _utc(nullable=True)
    admitted_at: datetime | None = _utc(nullable=True, index=True)  # the last hour's, counted


class ChaseState(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"  # its message is in the outbox
    CANCELLED = "cancelled"  # answered, decided, closed, or the address bounced


class ChaseStep(SQLModel, table=True):
    """One scheduled chase of an information request (first, second, escalation), due on a
    working day counted from the request. Durable: a restart or a replayed clock finds it."""

    __tablename__ = "chase_step"
    __table_args__ = (sa.UniqueConstraint("request_id", "step", name="uq_chase_request_step"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    request_id: int = Field(foreign_key="outbound_message.id")
    step: int  # 1, 2, 3 ...
    kind: str = Field(max_length=40)  # chase_first, chase_second, escalation
    due: date
    state: str = Field(max_length=20, index=True)  # a ChaseState
    reason: str = Field(default="", max_length=300)
    outbox_id: int | None = Field(default=None, foreign_key="outbound_message.id")


class BouncedAddress(SQLModel, table=True):
    """An address a delivery status notification said is permanently undeliverable (5.x.x):
    no chase goes to it, and the Co-ordinator is told."""

    __tablename__ = "bounced_address"

    address: str = Field(primary_key=True, max_length=320)
    status: str = Field(max_length=20)  # the DSN's status code, e.g. 5.1.1
    message_id: str | None = Field(default=None, max_length=998)  # ours that bounced
    bounced_at: datetime = _utc()


class Event(SQLModel, table=True):
    """The append-only event log (the migration adds triggers refusing UPDATE and DELETE).
    ``detail`` carries references and counts, never personal data."""

    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc()
    kind: str = Field(max_length=30, index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id", index=True)
    detail: dict[str, Any] = _json()


class EventKind(StrEnum):
    RECEIVED = "received"
    QUARANTINED = "quarantined"
    RELEASED = "released"
    DELETED = "deleted"  # a held message's stored bytes dropped (intake/retake.py)
    PARSED = "parsed"
    PROPOSED = "proposed"
    CASE_OPENED = "case_opened"
    INFORMATION_RECEIVED = "information_received"
    DECIDED = "decided"
    QUEUED = "queued"  # a reply went into the outbox
    REPLIED = "replied"  # ... and the server accepted it
    CHASED = "chased"
    ESCALATED = "escalated"
    CHASE_STOPPED = "chase_stopped"
    BOUNCED = "bounced"
    NOT_SENT = "not_sent"  # a reply refused (recipient) or failed for good: detail.state says


class Role(StrEnum):
    """What a console user may do (console/access.py holds the rules)."""

    COORDINATOR = "coordinator"
    DEPUTY = "deputy"  # acts for the Co-ordinator when away (domain.md §7)
    ADMINISTRATOR = "administrator"  # accounts and the audit log; no casework
    READ_ONLY = "read_only"


class ConsoleUser(SQLModel, table=True):
    __tablename__ = "console_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)  # the login name
    display_name: str = Field(max_length=200)  # shown on decisions and in the audit log
    role: Role = Field(sa_type=_enum(Role, 20))
    # argon2id, in PHC string form; "" until the user sets one through a one-time login.
    password_hash: str = Field(default="", max_length=200)
    active: bool = True
    failed_logins: int = 0  # since the last success: the lockout counts these
    locked_until: datetime | None = _utc(nullable=True)
    created_at: datetime = _utc()


class ConsoleSession(SQLModel, table=True):
    """A logged-in browser. The cookie holds a random token; only its SHA-256 is kept here,
    so a copy of the database lets nobody in."""

    __tablename__ = "console_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="console_user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _utc()
    last_seen_at: datetime = _utc()
    expires_at: datetime = _utc()  # the absolute limit; idleness ends it sooner


class OneTimeLogin(SQLModel, table=True):
    """A link that lets one person in once, to set a password (``users add``/``reset``, and
    the demo's login)."""

    __tablename__ = "one_time_login"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="console_user.id", index=True)
    expires_at: datetime = _utc()
    used_at: datetime | None = _utc(nullable=True)


class AuditEntry(SQLModel, table=True):
    """Who did or saw what, when: every view of a case and every decision (domain.md §9).
    Append-only like the event log (the migration adds the triggers). ``detail`` holds
    references and field names, never a field's value."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc()
    user_name: str = Field(max_length=100, index=True)
    role: str = Field(max_length=20)
    action: str = Field(max_length=40, index=True)
    target: str = Field(default="", max_length=100, index=True)  # a case ref, a user, an id
    detail: dict[str, Any] = _json()


class FieldCorrection(SQLModel, table=True):
    """A person's value for one field of a case, over the parser's (which stays as read).
    The newest correction of a field is the one in force."""

    __tablename__ = "field_correction"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    name: str = Field(max_length=60)
    value: Any = _json()
    reason: str = Field(default="", max_length=500)
    corrected_by: str = Field(max_length=200)
    corrected_at: datetime = _utc()
