"""The numbers and lists triage works with, each a setting with domain.md's figure as default."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class ReleaseRule(StrEnum):
    # s.27(7) of the Prisoners and Criminal Proceedings (Scotland) Act 1993 as amended by s.8 of
    # the Bail and Release from Custody (Scotland) Act 2023 (domain.md §6).
    S8_2023 = "s8_2023"
    # The rule before s.8: only Saturdays, Sundays and public holidays move.
    PRE_2023 = "pre_2023"


LANARKSHIRE_DISTRICTS = (
    "ML1", "ML2", "ML3", "ML4", "ML5", "ML6", "ML7", "ML8", "ML9", "ML10", "ML11", "ML12",
    "G65", "G67", "G68", "G69", "G71", "G72", "G73", "G74", "G75",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TriageSettings:
    categories: tuple[str, ...] = ("RSO", "RP", "CAT3")  # domain.md §2
    area_postcode_districts: tuple[str, ...] = LANARKSHIRE_DISTRICTS
    release_rule: ReleaseRule = ReleaseRule.S8_2023
    extra_holidays: tuple[date, ...] = ()  # council holidays on top of the bank holidays
    # Timescales of domain.md §6 (the Lanarkshire key-stages page).
    t1_working_days: int = 3
    t2_working_days: int = 5
    t3_weeks: int = 12
    t4_working_days: int = 20
    t5_working_days: int = 5
    t6_weeks: int = 12
    t7_weeks: int = 6
    t8_working_days: int = 5
    t9_working_days: int = 5
