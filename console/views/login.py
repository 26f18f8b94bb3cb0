"""Logging in, out, and in once with a one-time link to set a password."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from console.auth import LoginRefused
from console.passwords import MIN_PASSWORD_LENGTH, WeakPassword
from console.services import ConsoleServices
from console.web import SESSION_COOKIE, Call, Frame, frame, redirect, render


@dataclass(frozen=True, slots=True)
class LoginPageContext:
    frame: Frame
    next_path: str
    name: str
    error: str


@dataclass(frozen=True, slots=True)
class WelcomePageContext:
    frame: Frame
    token: str
    login_name: str
    display_name: str  # "" when the link no longer works
    min_length: int
    error: str


def _safe_next(path: str) -> str:
    """Only a path of this console: never an address elsewhere (an open redirect)."""
    if path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


def login_form(services: ConsoleServices, call: Call) -> Response:
    if call.viewer is not None:
        return redirect(_safe_next(call.query.get("next", "/")))
    context = LoginPageContext(
        frame(call, "login"), _safe_next(call.query.get("next", "/")), "", ""
    )
    return render("login.html", context)


def log_in(services: ConsoleServices, call: Call) -> Response:
    name = call.form.get("name", "").strip()[:100]
    next_path = _safe_next(call.form.get("next", "/"))
    try:
        token = services.auth.log_in(name, call.form.get("password", ""))
    except LoginRefused as err:
        context = LoginPageContext(frame(call, "login"), next_path, name, str(err))
        return render("login.html", context, status=401)
    response = redirect(next_path)
    set_session_cookie(response, token, services)
    return response


def log_out(services: ConsoleServices, call: Call) -> Response:
    services.auth.log_out(call.session_token, call.user())
    response = redirect("/login", "logged_out")
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


def welcome_form(services: ConsoleServices, call: Call) -> Response:
    token = call.path_params["token"]
    login_name, name = services.auth.one_time_user(token) or ("", "")
    context = WelcomePageContext(
        frame(call, "login"), token, login_name, name, MIN_PASSWORD_LENGTH, ""
    )
    return render("welcome.html", context, status=200 if name else 410)


def set_password(services: ConsoleServices, call: Call) -> Response:
    token = call.path_params["token"]
    password = call.form.get("password", "")
    error = ""
    if password != call.form.get("repeat", ""):
        error = "The two passwords are not the same."
    else:
        try:
            session_token = services.auth.set_password(token, password)
        except (WeakPassword, LoginRefused) as err:
            error = str(err)
        else:
            response = redirect("/", "password")
            set_session_cookie(response, session_token, services)
            return response
    login_name, name = services.auth.one_time_user(token) or ("", "")
    context = WelcomePageContext(
        frame(call, "login"), token, login_name, name, MIN_PASSWORD_LENGTH, error
    )
    return render("welcome.html", context, status=400)


def set_session_cookie(response: Response, token: str, services: ConsoleServices) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(services.settings.session_limit.total_seconds()),
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
