"""A test installation (tests/intake/site.py) that can also be given previous storage keys,
with real mail taken by the real daemon, and the rows of sealed bytes read straight from
its database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from sqlmodel import col, select

from records.tables import OutboundMessage, StoredBlob
from tests.intake.mail import fixture_message
from tests.intake.site import Site

# Later than every fixture's Date: each message's own delivery time is its receipt.
AFTER_THE_FIXTURES = "2028-01-31T12:00"
# Fixture messages with attachments (forms and supporting documents).
WITH_DOCUMENTS = (
    "referral-l2-docx-with-documents.eml",
    "rp-notification-level-2-pdf.eml",
    "referral-l3-fillable-with-documents.eml",
)


@dataclass
class KeyedSite(Site):
    previous: str = ""  # MAPPA_DATA_KEY_PREVIOUS

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("MAPPA_DATA_KEY_PREVIOUS", None)
        if self.previous:
            env["MAPPA_DATA_KEY_PREVIOUS"] = self.previous
        return env


def date_of(raw: bytes) -> datetime:
    for line in raw.split(b"\n"):
        if line.lower().startswith(b"date:"):
            return parsedate_to_datetime(line[5:].decode().strip())
    raise AssertionError("fixture without a Date header")


def deliver_fixture(site: Site, name: str) -> bytes:
    raw = fixture_message(name)
    site.deliver(raw, date_of(raw))
    return raw


def blobs(site: Site) -> list[StoredBlob]:
    database = site.database()
    try:
        with database.session() as session:
            return list(session.exec(select(StoredBlob).order_by(col(StoredBlob.id))).all())
    finally:
        database.dispose()


def sealed_replies(site: Site) -> list[OutboundMessage]:
    database = site.database()
    try:
        with database.session() as session:
            return list(
                session.exec(
                    select(OutboundMessage)
                    .where(col(OutboundMessage.sealed).is_not(None))
                    .order_by(col(OutboundMessage.id))
                ).all()
            )
    finally:
        database.dispose()


def folder_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file())
