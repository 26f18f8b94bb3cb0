"""``mappa-intake export``, on SQLite and a real PostgreSQL: a case the real daemon made from
a fixture message, written as a ZIP; its record equals ``cases --json`` and the database,
its documents are the attachments as they were sent, its messages the ones received and
sent, its manifest's hashes are right; it never overwrites, and an unknown case is a
one-line refusal."""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlmodel import col, select

from records import cases as case_records
from records.sealing import Sealer
from records.tables import AuditEntry, Form, FormField, InboundMessage
from tests.app.datasite import AFTER_THE_FIXTURES, KeyedSite, deliver_fixture, sealed_replies

pytestmark = pytest.mark.slow
MESSAGE = "referral-l2-docx-with-documents.eml"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _attachments(raw: bytes) -> dict[str, bytes]:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    found = {}
    for part in message.iter_attachments():
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        found[str(part.get_filename())] = data
    return found


def test_a_case_exported_for_the_system_of_record(tmp_path: Path, database_url: str) -> None:
    site = KeyedSite(tmp_path / "site", database_url)
    raw = deliver_fixture(site, MESSAGE)
    run = site.run_once("--now", AFTER_THE_FIXTURES)
    assert run.code == 0, run.stderr
    [listed] = site.cli("cases", "--json").json_lines()
    ref = str(listed["ref"])
    out = tmp_path / "out" / f"{ref}.zip"
    out.parent.mkdir()

    exported = site.cli("export", ref, "--out", str(out))
    assert exported.code == 0, exported.stderr
    assert f"{ref}: " in exported.stdout and str(out) in exported.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds the person's particulars
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left

    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        files = {name: archive.read(name) for name in names}
    record = json.loads(files["case.json"])

    # The case as `cases --json` shows it, and every form's fields as the database holds them.
    assert {key: record[key] for key in listed} == listed
    database = site.database()
    try:
        with database.session() as session:
            case = case_records.find_by_ref(session, ref)
            assert case is not None and case.id is not None
            stored = {
                form.source: {
                    f.name: {"value": f.value, "confidence": f.confidence, "evidence": f.evidence}
                    for f in session.exec(
                        select(FormField)
                        .where(FormField.form_id == form.id)
                        .order_by(col(FormField.id))
                    ).all()
                }
                for form in session.exec(select(Form).where(Form.case_id == case.id)).all()
            }
            assert record["fields"] == case_records.merged_fields(session, case.id)
            [message] = session.exec(select(InboundMessage)).all()
    finally:
        database.dispose()
    assert {f["source"]: f["fields"] for f in record["forms"]} == stored
    assert any(stored.values())
    assert record["proposals"][-1]["outcome"] == listed["proposal"]["outcome"]  # type: ignore[index]

    # The documents as they were sent, and the messages as received and as sent.
    originals = _attachments(raw)
    assert len(originals) >= 2
    [inbound] = record["thread"]["inbound"]
    assert inbound["message_id"] == message.message_id == listed["messages"][0]  # type: ignore[index]
    assert _sha(files[inbound["eml"]]) == message.sha256
    documents = {d["name"]: d for d in inbound["documents"]}
    assert set(documents) == set(originals)
    for name, data in originals.items():
        path = documents[name]["file"]
        assert path.startswith("documents/")
        assert _sha(files[path]) == _sha(data) == documents[name]["sha256"]
    [reply] = record["thread"]["replies"]
    [sealed] = sealed_replies(site)
    assert (reply["kind"], reply["message_id"]) == ("acknowledgement", sealed.message_id)
    assert reply["state"] in ("sent", "filed")
    opened = Sealer.from_text(site.key).open(sealed.sealed or b"", sealed.key_id or "")
    assert files[reply["eml"]] == opened

    # The manifest names every other file with its hash; SHA256SUMS says the same.
    manifest = json.loads(files["manifest.json"])
    assert manifest["case"] == ref
    assert {f["path"] for f in manifest["files"]} == set(names) - {"manifest.json", "SHA256SUMS"}
    for listed_file in manifest["files"]:
        assert listed_file["sha256"] == _sha(files[listed_file["path"]])
        assert listed_file["size"] == len(files[listed_file["path"]])
    sums = {
        line.split("  ", 1)[1]: line.split("  ", 1)[0]
        for line in files["SHA256SUMS"].decode().splitlines()
    }
    assert sums == {f["path"]: f["sha256"] for f in manifest["files"]}

    # Never over a file that is there; an unknown case is one line, exit 2.
    before = out.read_bytes()
    again = site.cli("export", ref, "--out", str(out))
    assert again.code == 2 and "already exists" in again.stderr
    assert again.stderr.count("\n") == 1 and out.read_bytes() == before
    unknown = site.cli("export", "MAPPA-2099-9999", "--out", str(tmp_path / "none.zip"))
    assert unknown.code == 2
    assert unknown.stderr == "mappa-intake: MAPPA-2099-9999: no such case\n"
    assert not (tmp_path / "none.zip").exists()

    # Who exported which case, audited; nothing of the person in it.
    database = site.database()
    try:
        with database.session() as session:
            [entry] = session.exec(
                select(AuditEntry).where(AuditEntry.action == "export_case")
            ).all()
    finally:
        database.dispose()
    assert entry.target == ref and entry.user_name.startswith("cli:")
    assert set(entry.detail) == {"files", "bytes"}
