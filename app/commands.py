"""``status``, ``cases`` and ``quarantine list|release|reprocess``: the ledger and the cases
seen (and, for quarantine, acted on) from the command line."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from app.exits import EXIT_OK, EXIT_PROBLEM, fail, state_failure
from app.settings import ConfigError, Settings, load


def run_state_command(args: argparse.Namespace) -> int:
    from app.runtime import open_database
    from records.errors import RecordsError

    try:
        settings = load(args.config)
        if args.command == "quarantine" and args.quarantine_command != "list":
            return _quarantine_action(args, settings)
        db = open_database(settings)
    except (ConfigError, RecordsError) as err:
        return state_failure(err)
    try:
        with db.session() as session:
            from records import views

            flag = deadline_flagger(settings)
            if args.command == "status":
                _print_status(views.status(session, flag), as_json=args.json)
            elif args.command == "cases":
                rows = views.case_summaries(session, args.state, flag)
                _print_rows(rows, args.json, _case_line)
            else:
                _print_rows(views.quarantine_list(session), args.json, _quarantine_line)
    finally:
        db.dispose()
    return EXIT_OK


def deadline_flagger(settings: Settings) -> Callable[[str, date, str], str | None]:
    """Flags deadlines against today's date in the Co-ordinator's zone."""
    from app.wiring import LOCAL_ZONE, triage_from
    from triage.slipping import deadline_flag

    _triage, calendar = triage_from(settings)
    today = datetime.now(LOCAL_ZONE).date()
    near = int(settings["deadlines.near_working_days"])
    return lambda timescale, due, status: deadline_flag(
        timescale, due, status, today, calendar, near
    )


def _print_rows(rows: list[dict[str, Any]], as_json: bool, line: Any) -> None:
    for row in rows:
        print(json.dumps(row, ensure_ascii=False) if as_json else line(row))
    if not as_json and not rows:
        print("(none)")


def _case_line(case: dict[str, Any]) -> str:
    proposal = case["proposal"] or {}
    level = proposal.get("level")
    proposed = f"{proposal.get('outcome', '-')}" + (f" L{level}" if level else "")
    missing = f"missing {len(case['missing'])}" if case["missing"] else "complete"
    flags = [f"{d['id']} {d['flag']}" for d in case["deadlines"] if d.get("flag")]
    flags += case["alerts"]
    return (
        f"{case['ref']}  {case['state']:<21} {case['form_type']:<16} "
        f"{case['category'] or '-':<5} {proposed:<18} {missing}"
        + (f"  ! {'; '.join(flags)}" if flags else "")
    )


def _quarantine_line(entry: dict[str, Any]) -> str:
    return f"{entry['id']:>5}  {entry['received'][:16]}  {entry['kind']:<18} {entry['reason']}"


def _print_status(status: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(status))
        return
    cases = ", ".join(f"{k} {v}" for k, v in sorted(status["cases"].items())) or "none"
    print(f"waiting to be processed: {status['waiting']}")
    print(f"quarantined (held):      {status['quarantined']}")
    print(f"cases:                   {cases}")
    print(f"replies waiting:         {status['outbox_waiting']}")
    print(f"reply failures:          {status['outbox_failures']}")
    for failed in status["outbox_failed"]:
        what = f"{failed['kind']} {failed['case'] or '-'} {failed['state']}"
        print(f"  outbox {failed['id']}: {what}: {failed['error']}")
    print(f"bounced addresses:       {status['bounced_addresses']}")
    for name in ("missed", "near"):
        refs = status["deadlines"][name]
        print(f"deadlines {name + ':':<14} {', '.join(refs) if refs else 'none'}")
    for mailbox in status["mailboxes"]:
        print(_mailbox_line(mailbox))
    print(f"alerts:                  {len(status['alerts']) or 'none'}")
    for alert in status["alerts"]:
        raised = alert["raised"][:16]
        print(f"  {alert['kind']} {alert['subject']}: {alert['detail']} (raised {raised})")


def _mailbox_line(mailbox: dict[str, Any]) -> str:
    """``mailbox NAME: last read WHEN (N min ago); failing since WHEN (KIND); token ...``"""
    ago = mailbox["last_read_seconds_ago"]
    line = f"mailbox {mailbox['mailbox']}: last read {mailbox['last_read'] or 'never'}"
    if ago is not None:
        line += f" ({ago // 60} min ago)"
    failing = mailbox["failing"]
    if failing:
        line += f"; failing since {failing['since']} ({failing['kind']})"
    if mailbox["token_expires"]:
        line += f"; token expires {mailbox['token_expires']}"
    return line


def _quarantine_action(args: argparse.Namespace, settings: Settings) -> int:
    """release or reprocess one held message (intake/retake.py says how they differ)."""
    from app.runtime import make_clock, open_runtime
    from intake.retake import NotHeld, take_again
    from records.errors import NotFound

    runtime = open_runtime(settings, os.environ, make_clock(None))
    try:
        vouched = args.quarantine_command == "release"
        retaken = take_again(runtime.processor, args.id, vouched=vouched)
    except (NotFound, NotHeld) as err:
        return fail(str(err), EXIT_PROBLEM)
    finally:
        runtime.db.dispose()
    if not retaken.refs:
        print(f"quarantine entry {args.id}: still held: {retaken.reason}")
        return EXIT_PROBLEM
    print(f"quarantine entry {args.id}: taken into {', '.join(retaken.refs)}")
    return EXIT_OK
