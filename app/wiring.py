"""Settings -> the values the pure packages take (limits, triage settings, the calendar)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from app.settings import Settings
from parsers.limits import MIB, Limits

if TYPE_CHECKING:  # triage (and the holidays tables) load only for `check`
    from triage.calendar import WorkingCalendar
    from triage.settings import TriageSettings


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_file_bytes=int(settings["limits.max_file_mb"]) * MIB,
        max_pages=int(settings["limits.max_pages"]),
        max_decompressed_bytes=int(settings["limits.max_decompressed_mb"]) * MIB,
        max_compression_ratio=int(settings["limits.max_compression_ratio"]),
        max_seconds=float(settings["limits.max_seconds"]),
        max_mime_parts=int(settings["limits.max_mime_parts"]),
        max_ocr_pages=int(settings["limits.max_ocr_pages"]),
    )


def triage_from(settings: Settings) -> tuple[TriageSettings, WorkingCalendar]:
    from triage.calendar import WorkingCalendar
    from triage.settings import ReleaseRule, TriageSettings

    extra = tuple(date.fromisoformat(d) for d in settings["calendar.extra_holidays"])
    triage = TriageSettings(
        categories=tuple(settings["triage.categories"]),
        area_postcode_districts=tuple(settings["triage.area_postcode_districts"]),
        release_rule=ReleaseRule(settings["timescales.release_rule"]),
        extra_holidays=extra,
        t1_working_days=settings["timescales.t1_working_days"],
        t2_working_days=settings["timescales.t2_working_days"],
        t3_weeks=settings["timescales.t3_weeks"],
        t4_working_days=settings["timescales.t4_working_days"],
        t5_working_days=settings["timescales.t5_working_days"],
        t6_weeks=settings["timescales.t6_weeks"],
        t7_weeks=settings["timescales.t7_weeks"],
        t8_working_days=settings["timescales.t8_working_days"],
        t9_working_days=settings["timescales.t9_working_days"],
    )
    return triage, WorkingCalendar(extra_holidays=extra)
