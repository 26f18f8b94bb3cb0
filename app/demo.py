"""``make demo`` for now: parse and check every sample form and message, and summarise.

The daemon and the console replace this in the next issues (contract.md: ``mappa-intake
demo`` will run the whole system on embedded defaults).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

FIXTURES = Path("fixtures")


def _samples() -> list[Path]:
    forms = sorted(p for p in (FIXTURES / "forms").iterdir() if not p.name.endswith(".json"))
    messages = sorted((FIXTURES / "messages").glob("*.eml"))
    return forms + messages


def run_demo() -> int:
    from app.documents import run_documents

    samples = _samples()
    print(
        f"mappa-intake demo: checking {len(samples)} sample forms and messages from {FIXTURES}/\n"
    )
    args = argparse.Namespace(
        command="check", files=samples, json=False, config=None, received="2026-11-23T09:00"
    )
    code = run_documents(args)
    _summary(samples)
    print(f"\n(exit code of the check: {code}; 1 means some forms are incomplete, as intended)")
    return 0


def _summary(samples: list[Path]) -> None:
    from app.documents import _Checker
    from app.settings import load
    from app.wiring import limits_from
    from parsers.api import ReadOptions, parse_path
    from parsers.errors import ParseError

    settings = load(None)
    import datetime as dt

    from app.documents import LOCAL_ZONE

    now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=LOCAL_ZONE)
    checker = _Checker(settings, None, now)
    options = ReadOptions(reference_year=now.year, limits=limits_from(settings))
    outcomes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for path in samples:
        try:
            forms = parse_path(path, options)
        except ParseError:
            outcomes["unreadable"] += 1
            continue
        for form in forms:
            kinds[str(form.form_type)] += 1
            report = checker.check(form).check or {}
            proposal = report.get("proposal")
            outcomes[str(proposal.get("outcome")) if isinstance(proposal, dict) else "?"] += 1
    print("\nSummary")
    print("  forms by type:     " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print("  proposed outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
