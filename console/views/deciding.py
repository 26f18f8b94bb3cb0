"""Changing a case from the console: correct a field (triage runs again), preview the reply
a decision will send and edit its words, then "approve and send" (responders/decisions.py
records it and queues the reply, exactly as ``mappa-intake decide`` does)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session
from starlette.responses import Response

from console import fields as field_words
from console.auth import Viewer
from console.errors import BadForm
from console.services import ConsoleServices
from console.views.case import OUTCOME_WORDS, case_context
from console.views.finding import find_case
from console.web import Call, Frame, frame, redirect, render
from records import cases as case_records
from records.audit import AuditAction, audit
from records.tables import Case, Decision
from responders.decisions import DecisionRefused, decide, draft, reply_kind

MAX_REPLY_CHARS = 20_000  # a reply is a letter, not a document


@dataclass(frozen=True, slots=True)
class DecisionForm:
    """The decision as the Co-ordinator filled it in (carried from preview to approval)."""

    outcome: str
    level: int | None
    reasons: tuple[str, ...]
    note: str
    redirect_to: str

    @property
    def level_text(self) -> str:
        return "" if self.level is None else str(self.level)


@dataclass(frozen=True, slots=True)
class ReplyPageContext:
    frame: Frame
    ref: str
    decision: DecisionForm
    outcome_words: str
    level: int | None
    recipient: str
    subject: str
    text: str  # the reply's words, editable ("" when the outcome sends none)
    sends_reply: bool


def _decision_form(call: Call) -> DecisionForm:
    level_text = call.form.get("level", "").strip()
    if level_text not in ("", "1", "2", "3"):
        raise BadForm("Level: choose 1, 2 or 3")
    # Typed one per line on the case page; carried one per hidden field to the approval.
    typed = call.form.get("reasons", "").splitlines() + call.form_lists.get("reason", [])
    reasons = tuple(line.strip() for line in typed if line.strip())
    return DecisionForm(
        outcome=call.form.get("outcome", ""),
        level=int(level_text) if level_text else None,
        reasons=reasons[:20],
        note=call.form.get("note", "")[:2000],
        redirect_to=call.form.get("redirect_to", "").strip()[:320],
    )


def _draft(
    session: Session, case: Case, form: DecisionForm, viewer: Viewer, services: ConsoleServices
) -> Decision:
    return draft(
        session,
        case,
        outcome=form.outcome,
        level=form.level,
        reasons=form.reasons,
        note=form.note,
        by=viewer.display_name,
        now=services.clock(),
        redirect_to=form.redirect_to or None,
    )


def _refused(
    services: ConsoleServices, call: Call, session: Session, case: Case, error: str
) -> Response:
    context = case_context(services, session, case, frame(call, "queue"), error=error)
    return render("case.html", context, status=400)


def preview_reply(services: ConsoleServices, call: Call) -> Response:
    viewer = call.user()
    form = _decision_form(call)
    with services.db.session() as session:
        case = find_case(session, call.path_params["ref"])
        try:
            decision = _draft(session, case, form, viewer, services)
        except DecisionRefused as err:
            return _refused(services, call, session, case, str(err))
        subject, text = _reply_words(services, session, case, decision)
        recipient = (
            form.redirect_to if form.outcome == "redirect" else _agency_address(session, case)
        )
        audit(
            session,
            services.clock(),
            viewer.name,
            viewer.role,
            AuditAction.PREVIEW_REPLY,
            case.ref,
            outcome=form.outcome,
        )
        context = ReplyPageContext(
            frame=frame(call, "queue"),
            ref=case.ref,
            decision=form,
            outcome_words=OUTCOME_WORDS.get(decision.outcome, decision.outcome),
            level=decision.level,
            recipient=recipient,
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


def _agency_address(session: Session, case: Case) -> str:
    assert case.id is not None
    messages = case_records.messages_of(session, case.id)
    return (messages[0].from_address or "") if messages else ""


def approve(services: ConsoleServices, call: Call) -> Response:
    viewer = call.user()
    form = _decision_form(call)
    edited = call.form.get("reply_text", "").replace("\r\n", "\n")
    if len(edited) > MAX_REPLY_CHARS:
        raise BadForm(f"The reply is longer than {MAX_REPLY_CHARS} characters.")
    now = services.clock()
    with services.db.session() as session:
        case = find_case(session, call.path_params["ref"])
        try:
            planned = _draft(session, case, form, viewer, services)
            _subject, template_text = _reply_words(services, session, case, planned)
            changed = edited.strip() and edited.strip() != template_text.strip()
            decided = decide(
                session,
                case,
                outcome=form.outcome,
                level=form.level,
                reasons=form.reasons,
                note=form.note,
                by=viewer.display_name,
                now=now,
                policy=services.policy,
                redirect_to=form.redirect_to or None,
                reply_text=edited if changed else None,
            )
        except DecisionRefused as err:  # raised by the draft, before anything was written
            return _refused(services, call, session, case, str(err))
        audit(
            session,
            now,
            viewer.name,
            viewer.role,
            AuditAction.DECIDE,
            case.ref,
            outcome=decided.decision.outcome,
            level=decided.decision.level,
            reply=str(decided.reply or ""),
            edited=bool(changed),
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
