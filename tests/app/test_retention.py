"""Retention on SQLite and a real PostgreSQL: a site whose daemon made cases from real
messages (with their documents and our acknowledgements) and held one in quarantine;
``mappa-intake retention --now`` removes the stored bytes of what has expired and nothing
else, keeps the cases and their fields, audits it, says the same in a dry run without
changing anything, and finds nothing the second time."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlmodel import col, select

from console.views.documents import document_view
from records import cases as case_records
from records import ledger
from records.errors import Purged
from records.sealing import Sealer
from records.tables import (
    AuditEntry,
    CaseState,
    Event,
    Form,
    FormField,
    OutboundMessage,
    QuarantineEntry,
    StoredBlob,
)
from tests.app.datasite import AFTER_THE_FIXTURES, WITH_DOCUMENTS, KeyedSite, deliver_fixture
from tests.intake.mail import auth_results, fixture_message, from_untrusted_sender, with_headers

pytestmark = pytest.mark.slow
T0 = datetime(2028, 1, 31, 12, 0, tzinfo=UTC)  # AFTER_THE_FIXTURES: when the mail was taken


def _at(days: int) -> str:
    return (T0 + timedelta(days=days)).isoformat()


def _snapshot(site: KeyedSite) -> dict[str, Any]:
    """Every row retention may change, as it is now."""
    database = site.database()
    try:
        with database.session() as session:
            return {
                "blobs": {
                    b.id: (b.purged_at, b.key_id, len(b.sealed))
                    for b in session.exec(select(StoredBlob)).all()
                },
                "replies": {
                    r.id: (r.purged_at, r.sealed is None, r.state)
                    for r in session.exec(select(OutboundMessage)).all()
                },
                "entries": {
                    e.id: (e.state, e.resolved_at)
                    for e in session.exec(select(QuarantineEntry)).all()
                },
                "fields": len(session.exec(select(FormField.id)).all()),
                "forms": len(session.exec(select(Form.id)).all()),
                "audit": len(session.exec(select(AuditEntry.id)).all()),
                "events": len(session.exec(select(Event.id)).all()),
            }
    finally:
        database.dispose()


def _case_rows(site: KeyedSite, ref: str) -> tuple[list[int], list[StoredBlob], list[Any]]:
    """A case's inbound message ids, their blobs, and the case's replies."""
    database = site.database()
    try:
        with database.session() as session:
            case = case_records.find_by_ref(session, ref)
            assert case is not None and case.id is not None
            messages = [m.id for m in case_records.messages_of(session, case.id) if m.id]
            blobs = list(
                session.exec(
                    select(StoredBlob).where(col(StoredBlob.inbound_id).in_(messages))
                ).all()
            )
            replies = list(
                session.exec(select(OutboundMessage).where(OutboundMessage.case_id == case.id))
            )
            return messages, blobs, replies
    finally:
        database.dispose()


def _close(site: KeyedSite, ref: str, when: datetime) -> None:
    """Nothing in the program closes a case yet: as whatever closes one will."""
    database = site.database()
    try:
        with database.session() as session:
            case = case_records.find_by_ref(session, ref)
            assert case is not None
            case.state, case.closed_at = CaseState.CLOSED, when
            session.add(case)
    finally:
        database.dispose()


def _retention(site: KeyedSite, *args: str) -> dict[str, Any]:
    run = site.cli("retention", "--json", *args)
    assert run.code == 0, run.stderr
    [report] = run.json_lines()
    return report


def test_retention_removes_what_expired_and_keeps_the_cases(
    tmp_path: Path, database_url: str
) -> None:
    site = KeyedSite(tmp_path / "site", database_url)
    for name in (*WITH_DOCUMENTS, "notification-in-text-body.eml"):
        deliver_fixture(site, name)
    # From an allow-listed domain, failing DMARC: held, and told to use secure e-mail.
    held = with_headers(
        fixture_message("notification-in-text-body.eml"),
        Authentication_Results=auth_results("dmarc=fail header.from=police.scot"),
        Message_ID="<dmarc-fail@police.scot>",
    )
    site.deliver(held)
    assert site.run_once("--now", AFTER_THE_FIXTURES).code == 0
    cases = site.cli("cases", "--json").json_lines()
    assert len(cases) == 4
    closed_long_ago, decided, waiting, closed_lately = (str(c["ref"]) for c in cases)
    [entry] = site.cli("quarantine", "list", "--json").json_lines()
    _close(site, closed_long_ago, T0 + timedelta(days=1))
    _close(site, closed_lately, T0 + timedelta(days=95))
    decision = site.cli("decide", decided, "--outcome", "accept", "--level", "2", "--now", _at(2))
    assert decision.code == 0, decision.stderr
    assert site.run_once("--now", _at(2)).code == 0  # the acceptance goes
    expired_messages, expired_blobs, expired_replies = _case_rows(site, closed_long_ago)
    assert {b.kind for b in expired_blobs} == {"raw", "attachment"} and expired_replies
    cases_before = site.cli("cases", "--json").stdout
    before = _snapshot(site)

    # A dry run says what would go and changes nothing.
    check = _at(100)
    dry = _retention(site, "--now", check, "--dry-run")
    assert dry["dry_run"] is True
    assert dry["cases"] == [closed_long_ago] and dry["quarantine_entries"] == [entry["id"]]
    assert _snapshot(site) == before

    done = _retention(site, "--now", check)
    assert {**done, "dry_run": True, "at": None} == {**dry, "at": None}
    assert done["raw_messages"] == len(expired_messages) + 1  # and the held message's
    assert done["attachments"] == sum(b.kind == "attachment" for b in expired_blobs)
    assert done["replies"] == len(expired_replies) + 1  # and the secure e-mail reply
    after = _snapshot(site)

    # The expired case's bytes are gone, its rows kept; the held message is deleted.
    gone = {b.id for b in expired_blobs}
    for blob_id, (purged_at, key_id, size) in after["blobs"].items():
        if blob_id in gone:
            assert purged_at is not None and key_id == "" and size == 0
    changed = {k for k in before["blobs"] if before["blobs"][k] != after["blobs"][k]}
    assert changed - gone and len(changed - gone) == 1  # the held message's raw bytes
    for reply in expired_replies:
        purged_at, dropped, _state = after["replies"][reply.id]
        assert purged_at is not None and dropped
    assert after["entries"][entry["id"]][0] == "deleted"
    assert (after["fields"], after["forms"]) == (before["fields"], before["forms"])
    assert site.cli("cases", "--json").stdout == cases_before
    assert site.cli("quarantine", "list", "--json").json_lines() == []
    database = site.database()
    try:
        with database.session() as session:
            # One entry per batch (the cases', then the quarantine's), each written in the
            # transaction that removed what it counts: references and counts only.
            audits = session.exec(
                select(AuditEntry).where(AuditEntry.action == "retention_purge")
            ).all()
            assert len(audits) == 2 and all(a.user_name.startswith("cli:") for a in audits)
            for name in ("cases", "quarantine_entries"):
                assert [x for a in audits for x in a.detail[name]] == done[name]
            for name in ("raw_messages", "attachments", "replies", "bytes"):
                assert sum(a.detail[name] for a in audits) == done[name]
            assert all(
                set(a.detail)
                == {
                    "cases",
                    "quarantine_entries",
                    "raw_messages",
                    "attachments",
                    "replies",
                    "bytes",
                }
                for a in audits
            )
            with pytest.raises(Purged, match="removed under the retention policy on 2028-05-10"):
                ledger.raw_bytes(session, expired_messages[0], Sealer.from_text(site.key))
            # The console's case page draws the form beside the fields: it says why not.
            case = case_records.find_by_ref(session, closed_long_ago)
            assert case is not None and case.id is not None
            services = SimpleNamespace(sealer=Sealer.from_text(site.key))
            for form in case_records.forms_of(session, case.id):
                view = document_view(services, session, form)  # type: ignore[arg-type]
                assert view.note == (
                    "This document was removed under the retention policy on 2028-05-10."
                )
    finally:
        database.dispose()
    exported = site.cli("export", closed_long_ago, "--out", str(tmp_path / "closed.zip"))
    assert exported.code == 0, exported.stderr
    with zipfile.ZipFile(tmp_path / "closed.zip") as archive:
        record = json.loads(archive.read("case.json"))
        assert [n for n in archive.namelist() if n.startswith(("documents/", "messages/"))] == []
    inbound = record["thread"]["inbound"][0]
    assert inbound["removed"] == "removed under the retention policy on 2028-05-10"
    assert all(d["removed"] for d in inbound["documents"])

    # Again: nothing more to remove, nothing audited.
    after = _snapshot(site)  # (the export was audited)
    second = _retention(site, "--now", check)
    assert (second["cases"], second["quarantine_entries"], second["bytes"]) == ([], [], 0)
    assert _snapshot(site) == after

    # A year after the decision, the decided case goes too, and the one closed lately; the
    # case waiting for a decision never does. A reply on a case whose mail is gone still goes.
    later = _retention(site, "--now", _at(400))
    assert later["cases"] == [decided, closed_lately]
    _, waiting_blobs, _ = _case_rows(site, waiting)
    assert all(b.purged_at is None for b in waiting_blobs)
    again = site.cli("decide", decided, "--outcome", "reject", "--reason", "Level 1 will do")
    assert again.code == 0, again.stderr
    assert site.run_once("--now", _at(400)).code == 0
    [reply] = [r for r in _case_rows(site, decided)[2] if r.kind == "rejection"]
    assert reply.state in ("sent", "filed") and reply.sealed is not None


def test_the_daemon_enforces_retention_itself(tmp_path: Path) -> None:
    """No command needed: the daemon's own pass removes a held message's bytes once
    retention.quarantine_days have gone by (its clock set with --now), audited as "system"."""
    site = KeyedSite(tmp_path / "site", f"sqlite:///{tmp_path / 'mappa.db'}")
    site.deliver(
        from_untrusted_sender(
            fixture_message("notification-in-text-body.eml"), "<untrusted@example.com>"
        )
    )
    assert site.run_once("--now", _at(0)).code == 0
    assert [b.purged_at for b in _blobs_of_all(site)] == [None]
    assert site.run_once("--now", _at(29)).code == 0  # not yet
    assert [b.purged_at for b in _blobs_of_all(site)] == [None]
    assert site.run_once("--now", _at(31)).code == 0
    [blob] = _blobs_of_all(site)
    assert blob.purged_at is not None and blob.sealed == b""
    database = site.database()
    try:
        with database.session() as session:
            purges = session.exec(
                select(AuditEntry).where(AuditEntry.action == "retention_purge")
            ).all()
    finally:
        database.dispose()
    assert [(a.user_name, a.detail["quarantine_entries"]) for a in purges] == [("system", [1])]


def _blobs_of_all(site: KeyedSite) -> list[StoredBlob]:
    database = site.database()
    try:
        with database.session() as session:
            return list(session.exec(select(StoredBlob)).all())
    finally:
        database.dispose()
