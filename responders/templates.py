"""Reply templates (Jinja2): one plain-text and one HTML template per reply kind.

``templates/<kind>.txt`` sets the subject's words (``{% set title %}``) and the plain-text part;
``templates/<kind>.html`` the HTML part, autoescaped, extending ``_base.html``. An operator can
override any of them by putting a file of the same name in the configured folder: it is looked
up first. Undefined names are errors (StrictUndefined), so a template that names something the
context does not carry fails in the tests, not in a reply.

The context carries only what the agency sent us and what the Co-ordinator decided: the person
is named as the form named them, nothing more.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import jinja2

from responders.compose import ReplyKind


@dataclass(frozen=True, slots=True)
class ReplyContext:
    case_ref: str
    marking: str  # "OFFICIAL-SENSITIVE"
    form_name: str  # "MAPPA referral", "stage 1 notification", ...
    person: str  # as the form gave it
    received: date
    signature: str  # "MAPPA Co-ordinator, Lanarkshire"
    missing: tuple[str, ...] = ()  # each missing item in plain words
    needed_by: date | None = None  # T8: when the missing items are needed
    level: int | None = None
    meeting_by: date | None = None  # T4 (Level 2) or T5 (Level 3)
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str
    text: str
    html: str


def long_date(value: date) -> str:
    """British long form: "Friday 27 November 2026"."""
    return f"{value:%A} {value.day} {value:%B %Y}"


class Templates:
    def __init__(self, override: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if override is not None:
            loaders.append(jinja2.FileSystemLoader(str(override)))
        loaders.append(jinja2.PackageLoader("responders", "templates"))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["long_date"] = long_date

    def render(self, kind: ReplyKind, context: ReplyContext) -> Rendered:
        values = asdict(context)
        text_template = self._env.get_template(f"{kind.value}.txt")
        title = str(text_template.make_module(values).title).strip()  # type: ignore[attr-defined]
        return Rendered(
            title=" ".join(title.split()),
            text=text_template.render(values),
            html=self._env.get_template(f"{kind.value}.html").render(values),
        )
