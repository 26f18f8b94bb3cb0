"""Errors of the console. Each carries the HTTP status it is shown with; one handler
(console/app.py) renders them all on the error page.

ConsoleError          root: status and a message fit to show the user
├── NotLoggedIn       401: no session, or it ended (the handler sends the browser to log in)
├── Forbidden         403: the user's role does not allow it, or the CSRF token is wrong
├── PageNotFound      404: no such case, message or page
└── BadForm           400: a form's value is wrong; the message says which
"""

from __future__ import annotations


class ConsoleError(Exception):
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotLoggedIn(ConsoleError):
    status = 401


class Forbidden(ConsoleError):
    status = 403


class PageNotFound(ConsoleError):
    status = 404


class BadForm(ConsoleError):
    status = 400
