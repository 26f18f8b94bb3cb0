"""What the responders are told at start (built from the configuration by app/wiring.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from responders.compose import Sender


@dataclass(frozen=True, slots=True)
class ChaseSettings:
    """Chases of an information request, in working days: the first after the T8 date, the
    second after the first, the escalation to the Co-ordinator after the second. Each goes
    out on its day from ``send_hour`` (local time)."""

    first_after: int = 1
    second_after: int = 3
    escalate_after: int = 2
    send_hour: int = 9


@dataclass(frozen=True, slots=True)
class ReplySettings:
    sender: Sender
    envelope_from: str  # the bare address of sender.from_header (SMTP MAIL FROM)
    signature: str
    coordinator: str  # who gets escalations: the Co-ordinator's own address
    per_recipient_per_hour: int
    chase: ChaseSettings
    zone: ZoneInfo
    templates: Path | None = None  # the operator's folder of templates, looked up first
