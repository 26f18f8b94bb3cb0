"""``decide`` and ``templates preview``: the Co-ordinator's side from the command line (the
console does the same through the same functions)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from app.exits import EXIT_OK, EXIT_PROBLEM, fail
from app.settings import ConfigError, Settings, load

if TYPE_CHECKING:
    from records.database import Database


def run_decision_command(args: argparse.Namespace) -> int:
    from app.runtime import open_database
    from app.wiring import LOCAL_ZONE, local_datetime

    try:
        settings = load(args.config)
        now = local_datetime(args.now) if getattr(args, "now", None) else datetime.now(LOCAL_ZONE)
    except ConfigError as err:
        return fail(str(err))
    except ValueError:
        return fail(f"--now: {args.now!r} is not a date or date-time")
    try:
        db = open_database(settings)
    except ConfigError as err:
        return fail(str(err))
    try:
        if args.command == "decide":
            return _decide(args, settings, db, now)
        return _preview(args, settings, db, now)
    except ConfigError as err:
        return fail(str(err))
    finally:
        db.dispose()


def _decide(args: argparse.Namespace, settings: Settings, db: Database, now: datetime) -> int:
    from app.runtime import decision_policy
    from records import cases as case_records
    from responders.decisions import Choice, DecisionRefused, decide

    policy = decision_policy(settings)
    try:
        with db.session() as session:
            case = case_records.find_by_ref(session, args.ref)
            if case is None:
                return fail(f"no case {args.ref}", EXIT_PROBLEM)
            choice = Choice(
                outcome=args.outcome,
                level=args.level,
                reasons=tuple(r.strip() for r in args.reason if r.strip()),
                note=args.note,
                redirect_to=args.to or "",
            )
            decided = decide(session, case, choice, by=args.by or os_user(), now=now, policy=policy)
            ref = case.ref
    except DecisionRefused as err:
        return fail(f"{args.ref.upper()}: {err}", EXIT_PROBLEM)
    level = f" at Level {decided.decision.level}" if decided.decision.level else ""
    print(f"{ref}: decided {decided.decision.outcome}{level}")
    if decided.not_sent:
        print(f"{ref}: no {decided.reply} queued: {decided.not_sent}", file=sys.stderr)
        return EXIT_PROBLEM
    if decided.reply is not None:
        print(f"{ref}: {decided.reply} queued to {decided.recipient}")
    return EXIT_OK


def os_user() -> str:
    """Who runs the command (decisions and account changes from the command line)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


def _preview(args: argparse.Namespace, settings: Settings, db: Database, now: datetime) -> int:
    from app.runtime import decision_policy
    from records import cases as case_records
    from responders.context import ContextBuilder
    from responders.templates import TEMPLATE_NAMES, Templates

    if args.name not in TEMPLATE_NAMES:
        return fail(f"no template {args.name!r}: one of {', '.join(TEMPLATE_NAMES)}")
    policy = decision_policy(settings)
    contexts = ContextBuilder(policy.replies, policy.triage, policy.calendar)
    with db.session() as session:
        case = case_records.find_by_ref(session, args.case)
        if case is None:
            return fail(f"no case {args.case}", EXIT_PROBLEM)
        context = contexts.preview(session, case, args.name, now)
    import jinja2

    try:
        rendered = Templates(policy.replies.templates).render_named(args.name, context)
    except jinja2.TemplateError as err:
        return fail(f"template {args.name}: {type(err).__name__}: {err}", EXIT_PROBLEM)
    marking = policy.replies.sender.marking
    ref = f" [{context.case_ref}]" if context.case_ref else ""
    print(f"Subject: {marking}:{ref} {rendered.title}\n")
    sys.stdout.write(rendered.text)
    if args.html:
        print("\n--- HTML ---")
        sys.stdout.write(rendered.html)
    return EXIT_OK
