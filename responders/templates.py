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
    case_ref: str  # "" for a reply that belongs to no case (the secure-e-mail reply)
    marking: str  # "OFFICIAL-SENSITIVE"
    signature: str  # "MAPPA Co-ordinator, Lanarkshire"
    received: date  # when the agency's message reached us
    form_name: str = "MAPPA form"  # "MAPPA referral", "MAPPA notification", ...
    person: str = ""  # as the form gave it
    agency: str = ""  # who sent it, as the form or the message named them (redirect)
    missing: tuple[str, ...] = ()  # each missing item in plain words
    requested_on: date | None = None  # when the information was asked for (chases)
    needed_by: date | None = None  # T8: when the missing items are needed
    level: int | None = None  # the level decided
    referred_level: int | None = None  # the level the agency proposed
    meeting_by: date | None = None  # T4 (Level 2) or T5 (Level 3)
    reasons: tuple[str, ...] = ()  # of a rejection, of another level, of a redirect
    chases: tuple[date, ...] = ()  # when reminders went (escalation)
    recipient: str = ""  # whom the request was sent to (escalation)
    area: str = ""  # the person's postcode district (redirect)


# Every template, by the name ``templates preview`` takes.
TEMPLATE_NAMES = (
    "acknowledgement",
    "acceptance_level2",
    "acceptance_level3",
    "acceptance_other_level",
    "rejection",
    "request_info",
    "secure_email",
    "chase_first",
    "chase_second",
    "escalation",
    "redirect",
)


def template_name(kind: ReplyKind, context: ReplyContext) -> str:
    """The template for a reply: an acceptance has three (Level 2, urgent Level 3, and
    another level than the agency referred at)."""
    if kind is not ReplyKind.ACCEPTANCE:
        return kind.value
    if context.referred_level is not None and context.level != context.referred_level:
        return "acceptance_other_level"
    return "acceptance_level3" if context.level == 3 else "acceptance_level2"


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
        return self.render_named(template_name(kind, context), context)

    def render_edited(self, kind: ReplyKind, context: ReplyContext, text: str) -> Rendered:
        """The reply as the Co-ordinator edited its words in the console: the template's
        subject, their text (the protective marking put back at the top and the foot if
        they took it out), and an HTML part made of the same paragraphs, escaped."""
        title = self.render(kind, context).title
        marked = with_marking(text, context.marking)
        paragraphs = [block.splitlines() for block in marked.split("\n\n") if block.strip()]
        html = self._env.get_template("_edited.html").render(
            marking=context.marking, case_ref=context.case_ref, paragraphs=paragraphs
        )
        return Rendered(title=title, text=marked, html=html)

    def render_named(self, name: str, context: ReplyContext) -> Rendered:
        values = asdict(context)
        text_template = self._env.get_template(f"{name}.txt")
        title = str(text_template.make_module(values).title).strip()  # type: ignore[attr-defined]
        return Rendered(
            title=" ".join(title.split()),
            text=text_template.render(values),
            html=self._env.get_template(f"{name}.html").render(values),
        )


def with_marking(text: str, marking: str) -> str:
    """``text`` with ``marking`` as its first and last lines (domain.md §9: the marking goes
    on every outgoing message)."""
    lines = text.replace("\r\n", "\n").strip().split("\n")
    if lines[0].strip() != marking:
        lines = [marking, "", *lines]
    if lines[-1].strip() != marking:
        lines = [*lines, "", marking]
    return "\n".join(lines) + "\n"
