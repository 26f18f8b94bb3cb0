"""The console as an ASGI app: its routes, the error page, the security headers.

/login, /logout, /welcome/{token}     views/login.py
/                                     views/queue.py
/cases/{ref}                          views/case.py
/cases/{ref}/fields|reply|decide      views/deciding.py
/quarantine[/{id}[/{action}]]         views/quarantine.py
/chases, /outbox                      views/outgoing.py
/reports[.csv]                        views/reports.py
/audit                                views/auditlog.py
/static/...                           console.css, console.js
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from console.access import Permission
from console.errors import ConsoleError, NotLoggedIn
from console.security import SecurityMiddleware
from console.services import ConsoleServices
from console.views import (
    auditlog,
    case,
    deciding,
    documents,
    login,
    outgoing,
    quarantine,
    queue,
    reports,
)
from console.web import Frame, PageFunction, page, render

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True, slots=True)
class ErrorPageContext:
    frame: Frame
    status: int
    message: str


def _routes(services: ConsoleServices) -> list[Route | Mount]:
    def route(
        path: str, function: PageFunction, permission: Permission | None, method: str = "GET"
    ) -> Route:
        return Route(path, page(services, function, permission), methods=[method])

    view, decide_, correct = Permission.VIEW, Permission.DECIDE, Permission.CORRECT
    hold, read_audit = Permission.QUARANTINE, Permission.READ_AUDIT
    return [
        route("/login", login.login_form, None),
        route("/login", login.log_in, None, "POST"),
        route("/logout", login.log_out, view, "POST"),
        route("/welcome/{token}", login.welcome_form, None),
        route("/welcome/{token}", login.set_password, None, "POST"),
        route("/", queue.queue, view),
        route("/cases/{ref}", case.case_page, view),
        route("/cases/{ref}/forms/{form_id}/pages/{number}", documents.page_image, view),
        route("/cases/{ref}/fields", deciding.correct_field, correct, "POST"),
        route("/cases/{ref}/reply", deciding.preview_reply, decide_, "POST"),
        route("/cases/{ref}/decide", deciding.approve, decide_, "POST"),
        route("/quarantine", quarantine.quarantine_page, view),
        route("/quarantine/{entry_id}", quarantine.held_message, view),
        route("/quarantine/{entry_id}/{action}", quarantine.act, hold, "POST"),
        route("/chases", outgoing.chases_page, view),
        route("/outbox", outgoing.outbox_page, view),
        route("/reports", reports.report_page, view),
        route("/reports.csv", reports.report_csv, view),
        route("/audit", auditlog.audit_page, read_audit),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


async def _console_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ConsoleError)
    if isinstance(error, NotLoggedIn):
        target = request.url.path if request.method == "GET" else "/"
        return RedirectResponse(f"/login?next={target}&done=expired", status_code=303)
    context = ErrorPageContext(Frame(None), error.status, error.message)
    return render("error.html", context, status=error.status)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    words = {404: "There is no such page.", 405: "That cannot be done to this page."}
    context = ErrorPageContext(
        Frame(None), error.status_code, words.get(error.status_code, error.detail)
    )
    return render("error.html", context, status=error.status_code)


def create_app(services: ConsoleServices) -> Starlette:
    return Starlette(
        routes=_routes(services),
        middleware=[Middleware(SecurityMiddleware)],
        exception_handlers={ConsoleError: _console_error, HTTPException: _http_error},
    )
