"""What a reader found -> named, normalised fields with confidence and evidence.

One mechanism for every format: each labelled value is matched to a field by the meaning of its
label (``parsers.labels``), read in the section it sits in, normalised (``parsers.fieldspecs``),
and scored. Where a field is found twice, the more trustworthy finding wins and a disagreement
is reported. Checkboxes, record tables and prose each have one small step of their own.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from parsers import normalise as norm
from parsers.fieldspecs import BOOLEAN_FIELDS, LIST_FIELDS, SPECS, Context
from parsers.formtype import detect_form_type
from parsers.freetext import risk_assessments
from parsers.labels import is_generic, is_section_marker, match_heading, match_label
from parsers.marks import has_boxes, marks_in_text
from parsers.model import (
    Field,
    FieldValue,
    FormType,
    LabelledValue,
    Line,
    Mark,
    Origin,
    ParsedForm,
    RawDocument,
    Table,
)
from parsers.names import split_full_name
from parsers.normalise import Normalised
from parsers.ocrfix import repair as repair_ocr
from parsers.synonyms import TABLE_HEADERS
from parsers.tables import columns_for

# How far a value is trusted, by where it was found: a named form field is what the sender
# typed into that box; a table cell beside its label nearly so; a line of prose or OCR less.
ORIGIN_CONFIDENCE = {
    Origin.FORM_FIELD: 0.97,
    Origin.TABLE: 0.95,
    Origin.PARAGRAPH: 0.93,
    Origin.TEXT: 0.9,
    Origin.OCR: 0.8,
}
# Multipliers for what weakens a value.
INVALID_FACTOR = 0.5  # failed a check (PNC letter, CHI modulus 11, impossible date)
AMBIGUOUS_FACTOR = 0.6  # "SRO": Sexual Risk Order or Supervised Release Order
PROSE_FACTOR = 0.8  # picked out of a sentence rather than a box of its own
CONFLICT_PENALTY = 0.2  # the same field found twice with different values
EVIDENCE_MAX = 60
# Words a risk assessment described without naming a tool needs before it counts as one.
MIN_DESCRIBED_WORDS = 3


@dataclass(frozen=True, slots=True)
class Candidate:
    value: FieldValue
    confidence: float
    evidence: str
    note: str = ""
    valid: bool = True


def _evidence(where: str, label: str) -> str:
    text = f"{where}: {label}" if where else label
    return text if len(text) <= EVIDENCE_MAX else text[: EVIDENCE_MAX - 1] + "…"


class _Collector:
    def __init__(self, reference_year: int) -> None:
        self.reference_year = reference_year
        self.raw: dict[str, list[tuple[str, float, str]]] = defaultdict(list)
        self.found: dict[str, list[Candidate]] = defaultdict(list)
        self.warnings: list[str] = []

    def text(self, field: str, value: str, confidence: float, evidence: str) -> None:
        """A value as written, normalised later (a CHI needs the date of birth first)."""
        if value.strip():
            self.raw[field].append((value, confidence, evidence))

    def add(self, field: str, candidate: Candidate) -> None:
        self.found[field].append(candidate)


def extract(raw: RawDocument, *, source: str, reference_year: int) -> ParsedForm:
    collector = _Collector(reference_year)
    section = ""
    for item in raw.items:
        if isinstance(item, Line):
            # A heading we know opens its section; any other "Part 5: ..." closes the last one.
            section = match_heading(item.text) or ("" if is_section_marker(item.text) else section)
        elif isinstance(item, LabelledValue):
            section = _take_pair(collector, item, section)
        elif isinstance(item, Mark):
            _take_mark(collector, item, section)
        elif isinstance(item, Table):
            _take_table(collector, item)
    _normalise_all(collector)
    fields = _resolve(collector)
    _derive(fields)
    form = ParsedForm(source, detect_form_type(raw.text, len(fields)), fields)
    form.warnings.extend(raw.warnings)
    form.warnings.extend(collector.warnings)
    _warn_on_weak_values(form)
    return form


def _take_pair(collector: _Collector, item: LabelledValue, section: str) -> str:
    """Match one labelled value; returns the section that follows it."""
    if has_boxes(item.label):
        # A row of boxes with no question beside it: "☒ Child protection | ☐ Adult protection".
        for option, ticked in marks_in_text(f"{item.label} {item.value}"):
            _take_mark(collector, Mark("", option, ticked, item.origin, item.where), section)
        return section
    match = match_label(item.label, section)
    if match is None:
        heading = match_heading(item.label)
        if heading and not item.value.strip():
            return heading
        return section
    confidence = ORIGIN_CONFIDENCE[item.origin] * match.score
    evidence = _evidence(item.where, item.label)
    if has_boxes(item.value):
        _take_boxes(collector, match.field, item, confidence, evidence)
    else:
        value = repair_ocr(match.field, item.value) if item.origin is Origin.OCR else item.value
        collector.text(match.field, value, confidence, evidence)
    return _implied_section(match.field, item.label) or section


# A clear label about the referrer or the manager opens their part of the form, even with no
# heading: "Officer completing form: ..." then "Agency: ..." is the referrer's agency.
_SECTION_OF_FIELD = {
    "referrer": "referrer",
    "manager": "manager",
    "person": "person",
    "form": "form",
}


def _implied_section(field: str, label: str) -> str | None:
    if is_generic(label):
        return None
    if field in ("rp.rmo", "rp.mho"):
        return field.removeprefix("rp.")
    return _SECTION_OF_FIELD.get(field.split(".", 1)[0])


def _take_boxes(
    collector: _Collector, field: str, item: LabelledValue, confidence: float, evidence: str
) -> None:
    for option, ticked in marks_in_text(item.value):
        _take_option(collector, field, option, ticked, confidence, evidence)


def _take_option(
    collector: _Collector, field: str, option: str, ticked: bool, confidence: float, evidence: str
) -> None:
    """One box of a question: a yes/no answers a boolean field; a ticked option is the value."""
    answer = norm.to_bool(option)
    if field in BOOLEAN_FIELDS:
        if answer is not None:
            if ticked:
                collector.add(field, Candidate(bool(answer.value), confidence, evidence))
            return
        # "☒ Child protection concerns" with the question as the box's own label
        collector.add(field, Candidate(ticked, confidence, evidence))
        return
    if ticked:
        collector.text(field, option, confidence, evidence)


_ANSWER_SUFFIX = re.compile(r"^(?P<question>.+?)[\s\-–:]+(?P<answer>yes|no|y|n)$", re.I)


def _take_mark(collector: _Collector, item: Mark, section: str) -> None:
    confidence = ORIGIN_CONFIDENCE[item.origin]
    evidence = _evidence(item.where, item.group or item.label)
    suffixed = None if item.group else _ANSWER_SUFFIX.match(item.label.strip())
    if suffixed is not None:
        # One box per answer, each named for the question: "Terror Yes", "Victim issues - no".
        item = Mark(suffixed["question"], suffixed["answer"], item.checked, item.origin, item.where)
    if item.group:
        match = match_label(item.group, section)
        if match is not None:
            _take_option(
                collector, match.field, item.label, item.checked, confidence * match.score, evidence
            )
            return
    match = match_label(item.label, section)
    if match is not None and match.field in BOOLEAN_FIELDS:
        collector.add(match.field, Candidate(item.checked, confidence * match.score, evidence))
        return
    # A box whose label is itself a value: "☒ Category 3", "☒ Level 2".
    if item.checked:
        for field, spec in (("category", norm.to_category), ("level.proposed", norm.to_level)):
            found = spec(item.label)
            if found is not None and found.valid:
                collector.text(field, item.label, confidence, evidence)
                return


def _take_table(collector: _Collector, table: Table) -> None:
    confidence = ORIGIN_CONFIDENCE[table.origin]
    evidence = _evidence(table.where, " | ".join(table.headers))
    for kind in TABLE_HEADERS:
        columns = columns_for(table.headers, kind)
        if columns is not None:
            break
    else:
        return
    for row in table.rows:
        cells = {c: (row[i] if i < len(row) else "") for c, i in columns.items()}
        if kind == "risk.assessments":
            _table_assessment(collector, cells, confidence, evidence)
        elif kind == "orders":
            _table_order(collector, cells, confidence, evidence)
        else:
            _table_document(collector, cells, confidence, evidence)


def _table_assessment(
    collector: _Collector, cells: dict[str, str], confidence: float, evidence: str
) -> None:
    tool = norm.to_text(cells["tool"])
    if tool is None:
        return
    entry = {"tool": _canonical_tool(str(tool.value))}
    result = norm.to_text(cells["result"])
    if result is not None:
        entry["result"] = str(result.value)
    date = norm.to_date(cells["date"], reference_year=collector.reference_year)
    if date is not None and date.valid:
        entry["date"] = str(date.value)
    collector.add("risk.assessments", Candidate([entry], confidence, evidence))


def _table_order(
    collector: _Collector, cells: dict[str, str], confidence: float, evidence: str
) -> None:
    found = norm.to_order_types(cells["order"], reference_year=collector.reference_year)
    if found is None or not isinstance(found.value, list):
        return
    entries = [dict(entry) for entry in found.value if isinstance(entry, dict)]
    date = norm.to_date(cells["date"], reference_year=collector.reference_year)
    if entries and date is not None and date.valid:
        entries[0]["date"] = str(date.value)
    collector.add(
        "orders",
        _candidate(Normalised(entries, found.valid, found.ambiguous), confidence, evidence),
    )


def _table_document(
    collector: _Collector, cells: dict[str, str], confidence: float, evidence: str
) -> None:
    name = norm.to_text(cells["document"])
    if name is None:
        return
    collector.add("documents.listed", Candidate([str(name.value)], confidence, evidence))
    attached = norm.to_bool(cells["attached"])
    if attached is not None and attached.value is False:
        collector.add("documents.not_attached", Candidate([str(name.value)], confidence, evidence))


def _canonical_tool(written: str) -> str:
    from parsers.freetext import find_tools

    tools = find_tools(written)
    return tools[0][0] if tools else written


def _normalise_all(collector: _Collector) -> None:
    ctx = Context(collector.reference_year)
    # The date of birth first: a CHI number is checked against it.
    order = sorted(collector.raw, key=lambda f: (f != "person.dob", f == "ids.chi"))
    for field in order:
        for text, confidence, evidence in collector.raw[field]:
            _normalise_one(collector, field, text, confidence, evidence, ctx)
        if field == "person.dob" and collector.found.get(field):
            best = max(collector.found[field], key=lambda c: c.confidence)
            ctx = Context(collector.reference_year, dob=str(best.value))


def _normalise_one(
    collector: _Collector, field: str, text: str, confidence: float, evidence: str, ctx: Context
) -> None:
    special = _SPECIAL.get(field)
    if special is not None:
        special(collector, text, confidence, evidence)
        return
    spec = SPECS.get(field)
    if spec is None:
        return
    found = spec(text, ctx)
    if found is None:
        return
    collector.add(field, _candidate(found, confidence, evidence))


def _candidate(found: Normalised, confidence: float, evidence: str) -> Candidate:
    if not found.valid:
        confidence *= INVALID_FACTOR
    if found.ambiguous:
        confidence *= AMBIGUOUS_FACTOR
    return Candidate(found.value, confidence, evidence, found.note, found.valid)


def _full_name(collector: _Collector, text: str, confidence: float, evidence: str) -> None:
    split = split_full_name(text)
    if split is None:
        return
    surname, forenames = split
    # A name split by us is a little less certain than a surname box of its own.
    collector.add("person.surname", Candidate(surname, confidence * 0.95, evidence))
    if forenames:
        collector.add("person.forenames", Candidate(forenames, confidence * 0.95, evidence))


def _address(collector: _Collector, text: str, confidence: float, evidence: str) -> None:
    postcode = norm.to_postcode(text)
    if postcode is not None:
        # The postcode is a field of its own: the address keeps the lines before it.
        text = text.replace(norm.written_postcode(text), "")
    found = norm.to_address(text)
    if found is None:
        return
    collector.add("person.address", _candidate(found, confidence, evidence))
    if postcode is not None:
        collector.add("person.postcode", _candidate(postcode, confidence * 0.95, evidence))


def _agency_name(collector: _Collector, text: str, confidence: float, evidence: str) -> None:
    found = norm.to_text(text)
    if found is None:
        return
    collector.add("form.agency_name", _candidate(found, confidence, evidence))
    kind = norm.to_agency_kind(text)
    if kind is not None:
        collector.add("form.agency", _candidate(kind, confidence * 0.95, evidence))


def _contact(collector: _Collector, text: str, confidence: float, evidence: str) -> None:
    email = norm.to_email(text)
    if email is not None:
        collector.add("referrer.email", _candidate(email, confidence, evidence))
    phone_text = re.sub(r"\S+@\S+", " ", text).strip(" /,;|\n")
    if re.search(r"\d{5,}|\d{3,}\s\d{3,}", phone_text):
        phone = norm.to_phone(phone_text)
        if phone is not None:
            collector.add("referrer.phone", _candidate(phone, confidence, evidence))


def _assessments(collector: _Collector, text: str, confidence: float, evidence: str) -> None:
    def iso(written: str) -> str | None:
        found = norm.to_date(written, reference_year=collector.reference_year)
        return str(found.value) if found is not None and found.valid else None

    entries = risk_assessments(text, iso)
    if entries:
        collector.add("risk.assessments", Candidate(entries, confidence * PROSE_FACTOR, evidence))
        return
    # No tool named: keep what is written, so the Co-ordinator sees it and triage knows that
    # an assessment was at least described (but a bare "Y" or "see below" is no assessment).
    written = norm.to_text(text)
    if written is not None and len(str(written.value).split()) >= MIN_DESCRIBED_WORDS:
        collector.add(
            "risk.assessments",
            Candidate([{"tool": str(written.value)}], confidence * PROSE_FACTOR * 0.7, evidence),
        )
    # A sentence about the assessment often states the overall RoSH too.
    rosh = norm.to_rosh(text)
    if rosh is not None and rosh.valid:
        collector.add("risk.rosh", _candidate(rosh, confidence * PROSE_FACTOR * 0.8, evidence))


def _documents(collector: _Collector, text: str, confidence: float, evidence: str) -> None:
    for entry in norm.to_list(text, dashes=False):
        name, attached = _document_mark(entry)
        # Without a mark, " - " separates documents ("RMP - CJSW report"), not a name's parts.
        for each in [name] if attached is not None else norm.to_list(name):
            collector.add("documents.listed", Candidate([each], confidence, evidence))
            if attached is False:
                collector.add("documents.not_attached", Candidate([each], confidence, evidence))


_ATTACHED_SUFFIX = re.compile(rf"\s*[\(\[\-–:]\s*{norm.ATTACHED_ANSWER}\s*[\)\]]?\s*$", re.I)


def _document_mark(entry: str) -> tuple[str, bool | None]:
    """ "Risk management plan (attached: No)" -> ("Risk management plan", False)."""
    found = _ATTACHED_SUFFIX.search(entry)
    if found is None:
        return entry.strip(), None
    answer = found["answer"].lower()
    attached = answer in norm.ATTACHED_YES
    return entry[: found.start()].strip(), attached


_DURATION = re.compile(
    r"^\s*(?:\d+(?:\.\d+)?\s*(?:years?|yrs?|months?|weeks?|days?)\b"
    r"|without\s+limit\s+of\s+time\s*$|indeterminate\s*$|indefinite\s*$)",
    re.I,
)


def _disposal(collector: _Collector, text: str, confidence: float, evidence: str) -> None:
    """ "Sentence: 12 months" says how long, not what kind."""
    if _DURATION.match(text):
        found = norm.to_text(text)
        if found is not None:
            collector.add("disposal.length", _candidate(found, confidence * 0.9, evidence))
        return
    found = norm.to_disposal_type(text)
    if found is not None:
        collector.add("disposal.type", _candidate(found, confidence, evidence))


_SPECIAL = {
    "disposal.type": _disposal,
    "person.name": _full_name,
    "person.address": _address,
    "form.agency_name": _agency_name,
    "referrer.contact": _contact,
    "risk.assessments": _assessments,
    "documents.listed": _documents,
}


def _resolve(collector: _Collector) -> dict[str, Field]:
    fields: dict[str, Field] = {}
    for field, candidates in collector.found.items():
        if not candidates:
            continue
        if field in LIST_FIELDS or field == "documents.not_attached":
            fields[field] = _merge_list(candidates)
        elif field == "category":
            fields[field] = _resolve_category(candidates, collector.warnings)
        else:
            fields[field] = _pick(field, candidates, collector.warnings)
    return fields


def _merge_list(candidates: list[Candidate]) -> Field:
    merged: list[object] = []
    for candidate in candidates:
        assert isinstance(candidate.value, list)
        for entry in candidate.value:
            if entry not in merged:
                merged.append(entry)
    best = max(candidates, key=lambda c: c.confidence)
    return Field(merged, min(c.confidence for c in candidates), best.evidence)  # type: ignore[arg-type]


def _pick(field: str, candidates: list[Candidate], warnings: list[str]) -> Field:
    # A value that passed its checks beats one that did not, wherever each was found: the
    # failures are often a printed hint or a stray line read as a value.
    valid = [c for c in candidates if c.valid]
    candidates = valid or candidates
    best = max(candidates, key=lambda c: c.confidence)
    if best.note:
        warnings.append(f"{field}: {best.note}")
    others = {repr(c.value) for c in candidates if c.value != best.value}
    confidence = best.confidence
    if others:
        confidence = max(0.0, confidence - CONFLICT_PENALTY)
        warnings.append(f"{field}: the form gives different values; the clearest one was taken")
    return Field(best.value, confidence, best.evidence)


def _resolve_category(candidates: list[Candidate], warnings: list[str]) -> Field:
    """One category, or a list when the form marks more than one (triage then asks)."""
    values: list[str] = []
    candidates = [c for c in candidates if c.valid] or candidates
    for candidate in candidates:
        if isinstance(candidate.value, str) and candidate.value not in values:
            values.append(candidate.value)
    best = max(candidates, key=lambda c: c.confidence)
    if len(values) > 1:
        warnings.append("category: more than one category is marked")
        return Field(values, best.confidence * AMBIGUOUS_FACTOR, best.evidence)
    return Field(best.value, best.confidence, best.evidence)


def _derive(fields: dict[str, Field]) -> None:
    """Fields one can read off another: the kind of agency from its name."""
    if "form.agency" not in fields and "referrer.agency" in fields:
        kind = norm.to_agency_kind(str(fields["referrer.agency"].value))
        if kind is not None:
            source = fields["referrer.agency"]
            fields["form.agency"] = Field(kind.value, source.confidence * 0.9, source.evidence)


def _warn_on_weak_values(form: ParsedForm) -> None:
    if FormType(form.form_type) is FormType.UNKNOWN and form.fields:
        form.warnings.append("form type not recognised: no notification or referral title found")
