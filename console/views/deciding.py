"""Changing a case from the console: correct a field (triage runs again), preview the reply
a decision will send and edit its words, then "approve and send" (responders/decisions.py
records it and queues the reply, exactly as ``mappa-intake decide`` does)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session
from starlette.responses import Response

from console import fields as field_words
from console.errors import BadForm
from console.services import ConsoleServices
from console.views.case import OUTCOME_WORDS, case_context
from console.views.finding import find_case
from console.web import Call, Frame, frame, redirect, render
from records import cases as case_records
from records.audit import AuditAction, audit
from records.tables import Case, Decision
from responders.decisions import (
    Choice,
    DecisionRefused,
    draft,
    record_decision,
    reply_kind,
    reply_recipient,
)

MAX_REPLY_CHARS = 20_000  # a reply is a letter, not a document


@dataclass(frozen=True, slots=True)
class ReplyPageContext:
    frame: Frame
    ref: str
    choice: Choice  # carried, in hidden fields, to the approval
    outcome_words: str
    level: int | None
    recipient: str
    subject: str
    text: str  # the reply's words, editable ("" when the outcome sends none)
    sends_reply: bool


def _choice(call: Call) -> Choice:
    level_text = call.form.get("level", "").strip()
    if level_text not in ("", "1", "2", "3"):
        raise BadForm("Level: choose 1, 2 or 3")
    # Typed one per line on the case page; carried one per hidden field to the approval.
    typed = call.form.get("reasons", "").splitlines() + call.form_lists.get("reason", [])
    reasons = tuple(line.strip() for line in typed if line.strip())
    return Choice(
        outcome=call.form.get("outcome", ""),
        level=int(level_text) if level_text else None,
        reasons=reasons[:20],
        note=call.form.get("note", "")[:2000],
        redirect_to=call.form.get("redirect_to", "").strip()[:320],
    )


def _refused(
    services: ConsoleServices, call: Call, session: Session, case: Case, error: str
) -> Response:
    context = case_context(services, session, case, frame(call, "queue"), error=error)
    return render("case.html", context, status=400)


def preview_reply(services: ConsoleServices, call: Call) -> Response:
    viewer = call.user()
    choice = _choice(call)
    with services.db.session() as session:
        case = find_case(session, call.path_params["ref"])
        try:
            decision = draft(session, case, choice, by=viewer.display_name, now=services.clock())
        except DecisionRefused as err:
            return _refused(services, call, session, case, str(err))
        subject, text = _reply_words(services, session, case, decision)
        audit(
            session,
            services.clock(),
            viewer.name,
            viewer.role,
            AuditAction.PREVIEW_REPLY,
            case.ref,
            outcome=choice.outcome,
        )
        context = ReplyPageContext(
            frame=frame(call, "queue"),
            ref=case.ref,
            choice=choice,
            outcome_words=OUTCOME_WORDS.get(decision.outcome, decision.outcome),
            level=decision.level,
            recipient=reply_recipient(session, case, choice.outcome, choice.redirect_to),
            subject=subject,
            text=text,
            sends_reply=reply_kind(decision.outcome) is not None,
        )
    return render("reply.html", context)


def _reply_words(
    services: ConsoleServices, session: Session, case: Case, decision: Decision
) -> tuple[str, str]:
    kind = reply_kind(decision.outcome)
    if kind is None:
        return "", ""
    context = services.reply_contexts.for_decision(session, case, decision)
    rendered = services.reply_templates.render(kind, context)
    marking = services.policy.replies.sender.marking
    return f"{marking}: [{case.ref}] {rendered.title}", rendered.text


def approve(services: ConsoleServices, call: Call) -> Response:
    viewer = call.user()
    choice = _choice(call)
    edited = call.form.get("reply_text", "").replace("\r\n", "\n")
    if len(edited) > MAX_REPLY_CHARS:
        raise BadForm(f"The reply is longer than {MAX_REPLY_CHARS} characters.")
    now = services.clock()
    with services.db.session() as session:
        case = find_case(session, call.path_params["ref"])
        try:
            decision = draft(session, case, choice, by=viewer.display_name, now=now)
        except DecisionRefused as err:
            return _refused(services, call, session, case, str(err))
        _subject, template_text = _reply_words(services, session, case, decision)
        changed = bool(edited.strip()) and edited.strip() != template_text.strip()
        decision.reply_text = edited if changed else None
        decided = record_decision(session, case, decision, choice.redirect_to, services.policy)
        audit(
            session,
            now,
            viewer.name,
            viewer.role,
            AuditAction.DECIDE,
            case.ref,
            outcome=decision.outcome,
            level=decision.level,
            reply=str(decided.reply or ""),
            edited=changed,
            not_sent=decided.not_sent,
        )
        ref = case.ref
    if decided.reply is not None and not decided.not_sent:
        # The daemon's sender looks at the outbox every few seconds (app/daemon.py).
        return redirect(f"/cases/{ref}", "queued")
    return redirect(f"/cases/{ref}", "decided")


def correct_field(services: ConsoleServices, call: Call) -> Response:
    viewer = call.user()
    name = call.form.get("field", "")
    if name not in field_words.LABELS:
        raise BadForm("Choose a field to correct.")
    reason = call.form.get("reason", "").strip()
    now = services.clock()
    with services.db.session() as session:
        case = find_case(session, call.path_params["ref"])
        assert case.id is not None
        values = case_records.merged_fields(session, case.id)
        dob = values.get("person.dob")
        try:
            value = field_words.normalised(
                name, call.form.get("value", ""), now.date(), dob if isinstance(dob, str) else None
            )
        except BadForm as err:
            return _refused(services, call, session, case, err.message)
        if not reason:
            return _refused(
                services, call, session, case, f"{field_words.label(name)}: say why you correct it"
            )
        case_records.add_correction(session, case, name, value, reason, viewer.display_name, now)
        services.reassess(session, case, now)
        audit(
            session, now, viewer.name, viewer.role, AuditAction.CORRECT_FIELD, case.ref, field=name
        )
        ref = case.ref
    return redirect(f"/cases/{ref}#fields", "corrected")
