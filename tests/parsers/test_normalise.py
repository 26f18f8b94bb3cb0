"""The normalisers of contract.md, as tables of what senders write and what we make of it."""

from __future__ import annotations

from typing import Any

import pytest

from parsers import normalise as norm
from parsers.ocrfix import repair

YEAR = 2026


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("07/03/1984", "1984-03-07"),
        ("7.3.84", "1984-03-07"),
        ("7 March 1984", "1984-03-07"),
        ("7th Mar 1984", "1984-03-07"),
        ("07-03-1984", "1984-03-07"),
        ("Wednesday 7th March 1984", "1984-03-07"),
        ("1st Sept 2026", "2026-09-01"),
        ("31/12/26", "2026-12-31"),
        ("1984-03-07", "1984-03-07"),
    ],
)
def test_dates_are_day_first(written: str, iso: str) -> None:
    found = norm.to_date(written, reference_year=YEAR)
    assert found is not None and (found.value, found.valid) == (iso, True)


@pytest.mark.parametrize("written", ["31/02/2026", "13/13/2026", "soon"])
def test_impossible_dates_are_kept_and_flagged(written: str) -> None:
    found = norm.to_date(written, reference_year=YEAR)
    assert found is not None and found.valid is False and found.note


@pytest.mark.parametrize("written", ["", "N/A", "  "])
def test_blank_dates_are_absent(written: str) -> None:
    assert norm.to_date(written, reference_year=YEAR) is None


@pytest.mark.parametrize(
    ("written", "value", "valid"),
    [
        # int("210123456") % 23 = 10 -> K (alphabet ZABCDEFGHJKLMNPQRTUVWXY)
        ("21/123456K", "21/123456K", True),
        ("21/0123456k", "21/0123456K", True),
        ("2021/123456K", "21/123456K", True),
        ("21 / 123456 K", "21/123456K", True),
        ("21/123456A", "21/123456A", False),
    ],
)
def test_pnc_check_letter(written: str, value: str, valid: bool) -> None:
    found = norm.to_pnc(written)
    assert found is not None and (found.value, found.valid) == (value, valid)


@pytest.mark.parametrize(
    ("written", "valid"),
    [
        # 0*10 + 7*9 + 0*8 + 3*7 + 8*6 + 4*5 + 5*4 + 6*3 + 7*2 = 215; 215 % 11 = 6; 11 - 6 = 5
        ("070384 5675", True),
        ("0703845676", False),
        ("07038456", False),
    ],
)
def test_chi_modulus_11(written: str, valid: bool) -> None:
    found = norm.to_chi(written, dob="1984-03-07")
    assert found is not None and found.valid is valid


def test_chi_must_begin_with_the_date_of_birth() -> None:
    found = norm.to_chi("0703845675", dob="1985-03-07")
    assert found is not None and found.valid is False


@pytest.mark.parametrize(
    ("written", "value", "valid"),
    [
        ("Registered Sex Offender", "RSO", True),
        ("Category 1", "RSO", True),
        ("Restricted patient", "RP", True),
        # Forth Valley's "Category 2" is a restricted patient, England's a violent offender.
        ("Cat 2", "Cat 2", False),
        ("Category 3 - Other Risk of Serious Harm", "CAT3", True),
        ("Category 4", "Category 4", False),
    ],
)
def test_categories(written: str, value: str, valid: bool) -> None:
    found = norm.to_category(written)
    assert found is not None and (found.value, found.valid) == (value, valid)


@pytest.mark.parametrize(
    ("written", "value"),
    [("Very High", "very_high"), ("V. High", "very_high"), ("medium", "medium"), ("LOW", "low")],
)
def test_rosh(written: str, value: str) -> None:
    found = norm.to_rosh(written)
    assert found is not None and found.value == value


@pytest.mark.parametrize(
    ("written", "value"),
    [("Yes", True), ("Y", True), ("X", True), ("No", False), ("n", False)],
)
def test_booleans(written: str, value: bool) -> None:
    found = norm.to_bool(written)
    assert found is not None and found.value is value


@pytest.mark.parametrize(
    ("written", "orders", "ambiguous"),
    [
        ("Sexual Harm Prevention Order - 11-12-2026", [{"type": "SHPO", "date": "2026-12-11"}],
         False),
        ("SOPO made 3/4/19", [{"type": "SOPO", "date": "2019-04-03"}], False),
        ("SRO", [{"type": "SRO"}], True),
        ("Sexual Risk Order", [{"type": "SRO"}], False),
        ("Supervised Release Order", [{"type": "SUPERVISED_RELEASE"}], False),
        ("SHPO; Notification Order", [{"type": "SHPO"}, {"type": "NO"}], False),
    ],
)  # fmt: skip
def test_orders(written: str, orders: list[dict[str, Any]], ambiguous: bool) -> None:
    found = norm.to_order_types(written, reference_year=YEAR)
    assert found is not None and (found.value, found.ambiguous) == (orders, ambiguous)


@pytest.mark.parametrize(
    ("written", "postcode"),
    [("ml3 0aa", "ML3 0AA"), ("G755NU", "G75 5NU"), ("ML10 ORT", "ML10 0RT")],
)
def test_postcodes(written: str, postcode: str) -> None:
    found = norm.to_postcode(written)
    assert found is not None and found.value == postcode


@pytest.mark.parametrize(
    ("field", "read", "repaired"),
    [
        ("ids.pnc", "26/0764855)", "26/0764855J"),
        ("ids.sw_ref", "SLC-C)-725561", "SLC-CJ-725561"),
        ("person.forenames", "lain", "Iain"),
        ("person.aliases", "Fraser Mcllwraith", "Fraser McIlwraith"),
        ("person.surname", "McLEAN", "McLEAN"),
        ("offence.index", "lewd (s.6)", "lewd (s.6)"),
    ],
)
def test_ocr_repairs_only_what_the_field_makes_certain(
    field: str, read: str, repaired: str
) -> None:
    assert repair(field, read) == repaired
