"""``mappa-intake parse`` and ``mappa-intake check``: read files, print forms, set the exit code.

No database, no mailbox: the parsers and the triage rules only, with the clock read here (today's
year for two-digit dates, and "now" when a form has no received date).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from app.exits import EXIT_OK, EXIT_PROBLEM, fail
from app.settings import ConfigError, Settings, load
from app.wiring import LOCAL_ZONE, limits_from, local_datetime, triage_from
from parsers.api import ReadOptions, parse_path
from parsers.errors import ParseError
from parsers.model import FormType, ParsedForm

# Show a progress bar from this many files on (fewer finish before it would be read).
PROGRESS_FROM = 5
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One form's result: what to print and how it bears on the exit code."""

    form: ParsedForm
    check: dict[str, object] | None
    code: int


def run_documents(args: argparse.Namespace) -> int:
    try:
        settings = load(args.config)
    except ConfigError as err:
        return fail(str(err))
    try:
        text = getattr(args, "received", None)
        received = local_datetime(text) if text is not None else None
    except ValueError:
        return fail(
            f"--received: {args.received!r} is not a date or date-time (YYYY-MM-DD[THH:MM])"
        )
    _cap_memory(settings)
    now = datetime.now(LOCAL_ZONE)
    options = ReadOptions(reference_year=now.year, limits=limits_from(settings))
    checker = _Checker(settings, received, now) if args.command == "check" else None
    from app.output import JsonOutput, TableOutput

    output = JsonOutput() if args.json else TableOutput(check=checker is not None)
    code = EXIT_OK
    for path, outcome in _read_all(args.files, options, checker, progress=not args.json):
        if isinstance(outcome, str):
            code = max(code, fail(f"{path}: {outcome}"))
            continue
        output.emit(outcome.form, outcome.check)
        code = max(code, outcome.code)
    output.close()
    return code


def _read_all(
    paths: list[Path], options: ReadOptions, checker: _Checker | None, *, progress: bool
) -> Iterator[tuple[Path, Outcome | str]]:
    from app.output import progress_bar

    with progress_bar(len(paths), enabled=progress and len(paths) >= PROGRESS_FROM) as advance:
        for path in paths:
            for outcome in _read_one(path, options, checker):
                yield path, outcome
            advance()


def _read_one(path: Path, options: ReadOptions, checker: _Checker | None) -> list[Outcome | str]:
    try:
        forms = parse_path(path, options)
    except ParseError as err:
        return [str(err)]
    except KeyboardInterrupt:
        raise
    except Exception as err:  # never a traceback for a bad input: one line, and go on
        log.debug("unexpected failure reading a document", exc_info=True)
        return [f"could not be read (internal error: {type(err).__name__})"]
    results: list[Outcome | str] = []
    for form in forms:
        if checker is None:
            results.append(Outcome(form, None, _parse_code(form)))
        else:
            results.append(checker.check(form))
    return results


def _parse_code(form: ParsedForm) -> int:
    return EXIT_PROBLEM if form.form_type is FormType.UNKNOWN else EXIT_OK


class _Checker:
    def __init__(self, settings: Settings, received: datetime | None, now: datetime) -> None:
        self.triage, self.calendar = triage_from(settings)
        self.received = received
        self.now = now

    def _received_date(self, form: ParsedForm) -> date:
        when = self.received or form.received or self.now
        if when.tzinfo is None:
            when = when.replace(tzinfo=LOCAL_ZONE)
        return when.astimezone(LOCAL_ZONE).date()

    def check(self, form: ParsedForm) -> Outcome:
        from triage.assess import assess, is_problem
        from triage.facts import FormFacts

        facts = FormFacts(
            form_type=str(form.form_type),
            values={name: f.value for name, f in form.fields.items()},
            in_message=form.in_message,
            attachments=form.attachments,
        )
        received = self._received_date(form)
        assessment = assess(facts, received, self.triage, self.calendar)
        report = {"received": received.isoformat(), **assessment.to_json()}
        code = EXIT_PROBLEM if is_problem(assessment) else EXIT_OK
        return Outcome(form, report, code)


def _cap_memory(settings: Settings) -> None:
    """Bound the process's memory, so that no document can exhaust the machine."""
    megabytes = int(settings["limits.max_memory_mb"])
    if megabytes <= 0:
        return
    try:
        import resource

        cap = megabytes * 1024 * 1024
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or hard > cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, ValueError, OSError):
        log.debug("memory cap not applied")


def to_json_line(form: ParsedForm, check: dict[str, object] | None) -> str:
    data = form.to_json()
    if check is not None:
        data.update(check)
    return json.dumps(data, ensure_ascii=False)
