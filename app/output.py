"""How parse and check results are shown: JSON Lines for programs, tables for people.

``--json`` output is exactly one JSON object per line on stdout and nothing else; tables and
the progress bar are for a person at a terminal (the bar goes to stderr and vanishes).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from parsers.model import ParsedForm

# Below this confidence a value is shown as one to check by eye.
WEAK_CONFIDENCE = 0.7


class JsonOutput:
    def emit(self, form: ParsedForm, check: dict[str, object] | None) -> None:
        from app.documents import to_json_line

        sys.stdout.write(to_json_line(form, check) + "\n")
        sys.stdout.flush()

    def close(self) -> None:
        pass


def _value_text(value: object) -> str:
    if isinstance(value, list):
        parts = []
        for entry in value:
            if isinstance(entry, dict):
                parts.append(", ".join(str(v) for v in entry.values()))
            else:
                parts.append(str(entry))
        return "; ".join(parts)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class TableOutput:
    def __init__(self, *, check: bool) -> None:
        from rich.console import Console

        self.console = Console(highlight=False)
        self.check = check

    def emit(self, form: ParsedForm, check: dict[str, object] | None) -> None:
        from rich.table import Table
        from rich.text import Text

        self.console.rule(Text(f"{form.source}  ·  {form.form_type}", style="bold"))
        table = Table(show_edge=False, pad_edge=False)
        for column in ("field", "value", "confidence", "evidence"):
            table.add_column(column, overflow="fold")
        for name, found in form.fields.items():
            style = "yellow" if found.confidence < WEAK_CONFIDENCE else ""
            table.add_row(
                name,
                Text(_value_text(found.value)),
                Text(f"{found.confidence:.2f}", style=style),
                Text(found.evidence, style="dim"),
            )
        if form.fields:
            self.console.print(table)
        for warning in form.warnings:
            self.console.print(Text(f"warning: {warning}", style="yellow"))
        if check is not None:
            self._check(check)

    def _check(self, check: dict[str, Any]) -> None:
        from rich.text import Text

        missing = check.get("missing") or []
        status = "complete" if check.get("complete") else f"incomplete: {len(missing)} missing"
        self.console.print(Text(f"received {check.get('received')}  ·  {status}", style="bold"))
        for name in missing:
            self.console.print(f"  missing  {name}")
        for deadline in check.get("deadlines") or []:
            extra = ""
            if "release_date_adjusted" in deadline:
                stated, adjusted = deadline["release_date"], deadline["release_date_adjusted"]
                extra = f" (release stated {stated}, adjusted {adjusted})"
            self.console.print(
                f"  {deadline['id']}  from {deadline['from']}  due {deadline['due']}"
                f"  {deadline['status']}{extra}"
            )
        proposal = check.get("proposal") or {}
        level = proposal.get("level")
        level_text = f" at Level {level}" if level else ""
        self.console.print(
            Text(f"proposal: {proposal.get('outcome')}{level_text}", style="bold cyan")
        )
        for reason in proposal.get("reasons") or []:
            self.console.print(f"  - {reason}")

    def close(self) -> None:
        pass


@contextmanager
def progress_bar(total: int, *, enabled: bool) -> Iterator[Callable[[], None]]:
    """A bar on stderr when a person is watching many files go by; nothing otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("reading", total=total)
        yield lambda: progress.advance(task)
