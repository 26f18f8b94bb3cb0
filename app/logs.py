"""Structured logs: one JSON object per line on stderr.

Lines carry references (the case reference, the ledger's message number, the Message-ID),
kinds and counts, never a name, date of birth, address, subject line or secret: the code logs
only such values, and tests/app/test_daemon.py greps a full run's log for every fixture
person's name and date of birth.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# The attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that log message contents or commands at DEBUG stay at WARNING.
    for noisy in ("imapclient", "sqlalchemy", "alembic", "pdfminer", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
