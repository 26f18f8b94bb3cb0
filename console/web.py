"""The glue between Starlette and the pages: one way to declare a page, check who may see it,
check the CSRF token of a form, and render its template.

A page is a plain function ``(services, call) -> Response`` run in a worker thread (the
database work is synchronous); ``Call`` carries what it may read of the request, already
parsed, and the logged-in ``Viewer``. ``page()`` wraps it into a Starlette endpoint that
refuses a visitor without a session (to the login page), a role without the permission
(403, audited), and a POST whose CSRF token is not the session's (403).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from console.access import Permission
from console.auth import Viewer
from console.errors import Forbidden, NotLoggedIn
from console.services import ConsoleServices
from records.audit import AuditAction, audit

# "__Host-": the browser keeps it only if Secure, for this host alone, Path=/ (RFC 6265bis).
SESSION_COOKIE = "__Host-mappa-session"
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class Call:
    """What a page reads of its request."""

    method: str
    path: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    form: Mapping[str, str]
    form_lists: Mapping[str, list[str]]
    session_token: str
    viewer: Viewer | None

    def user(self) -> Viewer:
        if self.viewer is None:
            raise NotLoggedIn("Please log in.")
        return self.viewer


@dataclass(frozen=True, slots=True)
class Frame:
    """What every page's layout (base.html) shows: who is logged in, the CSRF token for its
    forms, which part of the console is open, and a one-line notice."""

    viewer: Viewer | None
    section: str = ""
    notice: str = ""
    can: frozenset[str] = field(default_factory=frozenset)

    @property
    def csrf_token(self) -> str:
        return self.viewer.csrf_token if self.viewer else ""


# What a page may say after a redirect (``?done=CODE``): fixed words, so nobody can make a
# link that shows the Co-ordinator a message of their own.
NOTICES = {
    "decided": "Decision recorded.",
    "queued": "Decision recorded and the reply queued: the daemon sends it within seconds.",
    "corrected": "Correction kept, and the case checked again.",
    "password": "Password set. You are logged in.",
    "taken": "The message was taken: its case is in the queue.",
    "held_again": "The message was checked again and is still held: its reason is below.",
    "deleted": "The message's stored copy was deleted; the deletion is in the audit log.",
    "logged_out": "You have logged out.",
    "expired": "Your session has ended: please log in again.",
}


def page_number(call: Call) -> int:
    """The ``?page=`` of a paged list: 1 unless it is a plausible page number."""
    text = call.query.get("page", "1")
    return int(text) if text.isdigit() and 0 < int(text) < 100_000 else 1


def frame(call: Call, section: str, notice: str = "") -> Frame:
    viewer = call.viewer
    allowed = frozenset(p.value for p in Permission if viewer and viewer.allows(p))
    shown = notice or NOTICES.get(call.query.get("done", ""), "")
    return Frame(viewer, section, shown, allowed)


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,  # every page: a form's field may carry markup meant to run
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template: str, context: Any, status: int = 200) -> HTMLResponse:
    """``context`` is the page's dataclass: its fields are the template's names."""
    values = {f: getattr(context, f) for f in context.__dataclass_fields__}
    return HTMLResponse(_ENVIRONMENT.get_template(template).render(values), status_code=status)


def redirect(path: str, done: str = "") -> RedirectResponse:
    """303 See Other to ``path`` (post/redirect/get), with a notice of ``NOTICES``."""
    assert not done or done in NOTICES
    path, hash_mark, fragment = path.partition("#")
    target = path + (("&" if "?" in path else "?") + "done=" + quote(done) if done else "")
    return RedirectResponse(target + hash_mark + fragment, status_code=303)


PageFunction = Callable[[ConsoleServices, Call], Response]


def page(
    services: ConsoleServices, function: PageFunction, permission: Permission | None
) -> Callable[[Request], Any]:
    """A Starlette endpoint for ``function``; ``permission`` None: open to anyone (login)."""

    async def endpoint(request: Request) -> Response:
        form: dict[str, str] = {}
        lists: dict[str, list[str]] = {}
        if request.method == "POST":
            async with request.form(max_files=0, max_fields=200) as data:
                for key, value in data.multi_items():
                    if isinstance(value, str):
                        form.setdefault(key, value)
                        lists.setdefault(key, []).append(value)
        call = Call(
            method=request.method,
            path=request.url.path,
            path_params=dict(request.path_params),
            query=dict(request.query_params),
            form=form,
            form_lists=lists,
            session_token=request.cookies.get(SESSION_COOKIE, ""),
            viewer=None,
        )
        return await run_in_threadpool(_guarded, services, function, permission, call)

    return endpoint


def _guarded(
    services: ConsoleServices, function: PageFunction, permission: Permission | None, call: Call
) -> Response:
    viewer = services.auth.viewer(call.session_token)
    call = replace(call, viewer=viewer)
    if permission is None:
        return function(services, call)
    if viewer is None:
        raise NotLoggedIn("Your session has ended: please log in again.")
    if not viewer.allows(permission):
        with services.db.session() as session:
            audit(
                session,
                services.clock(),
                viewer.name,
                viewer.role,
                AuditAction.REFUSED,
                call.path[:100],
                permission=permission.value,
            )
        raise Forbidden(f"Your role ({viewer.role.value}) does not allow this.")
    if call.method == "POST":
        check_csrf(call, viewer)
    return function(services, call)


def check_csrf(call: Call, viewer: Viewer) -> None:
    """The synchroniser-token pattern (OWASP): every form carries the session's token."""
    sent = call.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, viewer.csrf_token):
        raise Forbidden("This form has expired or did not come from the console: reload and retry.")
