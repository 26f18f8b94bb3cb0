"""What triage knows of one form: its type, its field values, and how it arrived."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class FormFacts:
    form_type: str
    values: Mapping[str, object] = field(default_factory=dict)
    in_message: bool = False
    attachments: tuple[str, ...] = ()

    def has(self, name: str) -> bool:
        value = self.values.get(name)
        return value not in (None, "", [])

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) and value else None

    def date(self, name: str) -> date | None:
        text = self.text(name)
        if text is None:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None

    def texts(self, name: str) -> list[str]:
        """The strings of a list-valued field (documents, order types); [] when absent."""
        value = self.values.get(name)
        if not isinstance(value, list | tuple):
            return []
        return [item for item in value if isinstance(item, str) and item]

    def level(self) -> int | None:
        value = self.values.get("level.proposed")
        return (
            value
            if isinstance(value, int) and not isinstance(value, bool) and value in (1, 2, 3)
            else None
        )

    def flag(self, name: str) -> bool | None:
        value = self.values.get(name)
        return value if isinstance(value, bool) else None

    @property
    def is_referral(self) -> bool:
        return self.form_type in ("referral", "rp_referral")

    @property
    def is_notification(self) -> bool:
        return self.form_type in ("notification", "rp_notification")

    @property
    def is_restricted_patient(self) -> bool:
        return self.form_type in ("rp_notification", "rp_referral")
