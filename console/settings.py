"""The console's settings, as values (app/wiring.py builds them from the configuration)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    host: str
    port: int
    public_url: str  # how users reach it: one-time links are made from this
    session_idle: timedelta
    session_limit: timedelta
    lockout_failures: int
    lockout: timedelta
    one_time_login: timedelta
    near_working_days: int  # deadlines this close are flagged "near" (as `status` does)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
