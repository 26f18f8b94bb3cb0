"""The values every reader and the extractor share.

Two layers:

* what a *reader* finds in a document, before any meaning is attached: labelled values
  (``LabelledValue``), checkboxes (``Mark``) and the plain text (``RawDocument``);
* what the *extractor* makes of it: named fields in the normal forms of contract.md, each with
  a confidence and short evidence (``Field``, ``ParsedForm``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from parsers.limits import Limits

FieldValue = str | int | bool | list[str] | list[dict[str, str]]


class FormType(StrEnum):
    NOTIFICATION = "notification"
    REFERRAL = "referral"
    RP_NOTIFICATION = "rp_notification"
    RP_REFERRAL = "rp_referral"
    UNKNOWN = "unknown"

    @property
    def is_referral(self) -> bool:
        return self in (FormType.REFERRAL, FormType.RP_REFERRAL)

    @property
    def is_notification(self) -> bool:
        return self in (FormType.NOTIFICATION, FormType.RP_NOTIFICATION)

    @property
    def is_restricted_patient(self) -> bool:
        return self in (FormType.RP_NOTIFICATION, FormType.RP_REFERRAL)


class Origin(StrEnum):
    """Where a labelled value came from; it sets the starting confidence of a field."""

    FORM_FIELD = "form field"  # a PDF AcroForm field or a Word content control
    TABLE = "table"  # a label cell beside its value cell
    PARAGRAPH = "paragraph"  # "Label: value" on one line of a document
    TEXT = "text"  # a line of a PDF text layer or an e-mail body
    OCR = "ocr"  # text recognised from an image


@dataclass(frozen=True, slots=True)
class LabelledValue:
    """A value and the label written beside it, as the document has them."""

    label: str
    value: str
    origin: Origin
    where: str  # a few words: "p1", "table 2", "field txtSurname"


@dataclass(frozen=True, slots=True)
class Mark:
    """A checkbox (☒/☐, a Word checkbox control, a PDF checkbox field) and its label.

    ``group`` is the label of the question the box answers ("Category", "Child protection
    concerns") when the document gives one; ``label`` is the option's own text.
    """

    group: str
    label: str
    checked: bool
    origin: Origin
    where: str


@dataclass(frozen=True, slots=True)
class Table:
    """A table with a header row and several records (risk assessments, documents)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    origin: Origin
    where: str


@dataclass(frozen=True, slots=True)
class Line:
    """Text that is not (yet) known to be a label and value: a heading, a sentence, or a
    label whose value follows on the next lines."""

    text: str
    origin: Origin
    where: str


Item = LabelledValue | Mark | Table | Line


@dataclass(slots=True)
class RawDocument:
    """Everything a reader found in one document, in reading order."""

    items: list[Item] = field(default_factory=list)
    text: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Field:
    value: FieldValue
    confidence: float
    evidence: str

    def to_json(self) -> dict[str, object]:
        return {
            "value": self.value,
            "confidence": round(self.confidence, 2),
            "evidence": self.evidence,
        }


@dataclass(slots=True)
class ParsedForm:
    """One form read from one document (or one part of an e-mail)."""

    source: str
    form_type: FormType
    fields: dict[str, Field] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # File names of the other attachments of the same e-mail: lets triage see whether the
    # supporting documents the form lists were really sent. Empty for a file read on its own.
    attachments: tuple[str, ...] = ()
    # True when the form arrived inside an e-mail, so the attachment list is meaningful.
    in_message: bool = False
    # When the e-mail carrying the form was sent (its Date header), if it came in one.
    received: datetime | None = None
    # Set on a result that stands for a failure rather than a form: the ParseError kind
    # ("macro", "encrypted", ...) or "no_form". Intake quarantines on it.
    failure: str | None = None

    def value(self, name: str) -> FieldValue | None:
        found = self.fields.get(name)
        return None if found is None else found.value

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "form_type": str(self.form_type),
            "fields": {name: f.to_json() for name, f in self.fields.items()},
            "warnings": list(self.warnings),
        }


class FormReader(Protocol):
    """One document format: bytes in, what was found out. Raises ``parsers.errors.ParseError``."""

    def read(self, data: bytes, *, limits: Limits) -> RawDocument: ...
