"""How each field's value is normalised: one entry per field name of contract.md.

A spec is a function from the text as written (and a little context) to a ``Normalised`` value,
or None when the box holds nothing ("N/A", "Not known", blank).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from parsers import normalise as norm
from parsers.normalise import Normalised


@dataclass(frozen=True, slots=True)
class Context:
    """What a normaliser may need besides the text: the year two-digit years are read against,
    and the date of birth a CHI number must agree with."""

    reference_year: int
    dob: str | None = None


Normaliser = Callable[[str, Context], Normalised | None]


def _date(text: str, ctx: Context) -> Normalised | None:
    return norm.to_date(text, reference_year=ctx.reference_year)


def _birth_date(text: str, ctx: Context) -> Normalised | None:
    return norm.to_date(text, reference_year=ctx.reference_year, past=True)


def _chi(text: str, ctx: Context) -> Normalised | None:
    return norm.to_chi(text, dob=ctx.dob)


def _orders(text: str, ctx: Context) -> Normalised | None:
    return norm.to_order_types(text, reference_year=ctx.reference_year)


def _plain(fn: Callable[[str], Normalised | None]) -> Normaliser:
    def apply(text: str, _ctx: Context) -> Normalised | None:
        return fn(text)

    return apply


def _lead_agency(text: str) -> Normalised | None:
    found = norm.to_agency_kind(text)
    if found is None or found.value == "other":
        return (
            None
            if found is None
            else Normalised(found.value, valid=False, note="lead agency not recognised")
        )
    return found


TEXT = _plain(norm.to_text)
BOOL = _plain(norm.to_bool)
DATE: Normaliser = _date

SPECS: dict[str, Normaliser] = {
    "form.date": DATE,
    "form.agency_name": TEXT,
    "person.surname": _plain(norm.to_name_surname),
    "person.forenames": TEXT,
    "person.aliases": _plain(lambda t: Normalised(norm.to_list(t)) if norm.to_list(t) else None),
    "person.dob": _birth_date,
    "person.gender": _plain(norm.to_gender),
    "person.address": _plain(norm.to_address),
    "person.postcode": _plain(norm.to_postcode),
    "ids.chs": TEXT,
    "ids.pnc": _plain(norm.to_pnc),
    "ids.cro": TEXT,
    "ids.visor": TEXT,
    "ids.sps": TEXT,
    "ids.sw_ref": TEXT,
    "ids.chi": _chi,
    "category": _plain(norm.to_category),
    "terrorism": BOOL,
    "offence.index": TEXT,
    "offence.conviction_date": DATE,
    "offence.court": TEXT,
    "disposal.type": _plain(norm.to_disposal_type),
    "disposal.date": DATE,
    "disposal.release_date": DATE,
    "disposal.length": TEXT,
    "disposal.supervision": BOOL,
    "sonr.start": DATE,
    "sonr.end": DATE,
    "sonr.period": _plain(norm.to_sonr_period),
    "orders": _orders,
    "risk.rosh": _plain(norm.to_rosh),
    "level.proposed": _plain(norm.to_level),
    "level.rationale": TEXT,
    "level.l3_statement": TEXT,
    "lead_agency": _plain(_lead_agency),
    "referrer.name": TEXT,
    "referrer.role": TEXT,
    "referrer.agency": TEXT,
    "referrer.phone": _plain(norm.to_phone),
    "referrer.email": _plain(norm.to_email),
    "manager.name": TEXT,
    "manager.date": DATE,
    "flags.child_protection": BOOL,
    "flags.adult_protection": BOOL,
    "flags.victims": BOOL,
    "rp.order_type": _plain(norm.to_rp_order_type),
    "rp.hospital": TEXT,
    "rp.rmo": TEXT,
    "rp.mho": TEXT,
}

# Fields whose value is a yes/no: a ticked "Yes" or "No" box answers them.
BOOLEAN_FIELDS = frozenset(name for name, spec in SPECS.items() if spec is BOOL)
# Fields that collect several entries from several places.
LIST_FIELDS = frozenset({"risk.assessments", "orders", "documents.listed", "person.aliases"})
