"""Logging in and out, sessions, one-time login links, lockout.

A session is a row (records/people.py) named by the SHA-256 of a random cookie token: ending
it (logout, a disabled account, a password reset) takes effect on the next request. A session
ends after ``session_idle`` without a request, or ``session_limit`` after login. After
``lockout_failures`` wrong passwords in a row an account is locked for ``lockout``; the message
never says whether the name exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from console.access import Permission, allows
from console.passwords import burn_time, hash_password, password_matches
from console.settings import ConsoleSettings
from records import people
from records.audit import AuditAction, audit
from records.database import Database
from records.tables import ConsoleUser, Role

Clock = Callable[[], datetime]
REFUSED = "Wrong name or password, or the account is locked for a while."


class LoginRefused(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Viewer:
    """The logged-in user of a request."""

    name: str
    display_name: str
    role: Role
    csrf_token: str

    def allows(self, permission: Permission) -> bool:
        return allows(self.role, permission)


def _viewer(user: ConsoleUser, csrf_token: str) -> Viewer:
    return Viewer(user.name, user.display_name, user.role, csrf_token)


class Authenticator:
    def __init__(self, db: Database, settings: ConsoleSettings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def log_in(self, name: str, password: str) -> str:
        """The new session's cookie token; LoginRefused (always the same words) else. Every
        attempt is audited (the refusal is raised after the audit entry is committed)."""
        with self.db.session() as session:
            token = self._attempt(session, name, password, self.clock())
        if token is None:
            raise LoginRefused(REFUSED)
        return token

    def _attempt(self, session: Session, name: str, password: str, now: datetime) -> str | None:
        user = people.find_user(session, name)
        if user is None or not user.active:
            burn_time(password)
            shown = "(unknown)" if user is None else user.name  # never a mistyped secret
            audit(session, now, shown, "", AuditAction.LOGIN_FAILED)
            return None
        if user.locked_until is not None and user.locked_until > now:
            burn_time(password)
            audit(session, now, user.name, user.role, AuditAction.LOGIN_FAILED, reason="locked")
            return None
        if not password_matches(user.password_hash, password):
            self._failed(session, user, now)
            return None
        user.failed_logins = 0
        user.locked_until = None
        session.add(user)
        token, _row = people.start_session(session, user, now, now + self.settings.session_limit)
        audit(session, now, user.name, user.role, AuditAction.LOGIN)
        return token

    def _failed(self, session: Session, user: ConsoleUser, now: datetime) -> None:
        user.failed_logins += 1
        audit(session, now, user.name, user.role, AuditAction.LOGIN_FAILED)
        if user.failed_logins >= self.settings.lockout_failures:
            user.failed_logins = 0
            user.locked_until = now + self.settings.lockout
            audit(session, now, user.name, user.role, AuditAction.LOCKED_OUT)
        session.add(user)

    def viewer(self, token: str) -> Viewer | None:
        if not token:
            return None
        with self.db.session() as session:
            found = people.live_session(session, token, self.clock(), self.settings.session_idle)
            return _viewer(found[1], found[0].csrf_token) if found else None

    def log_out(self, token: str, viewer: Viewer) -> None:
        with self.db.session() as session:
            people.end_session(session, token)
            audit(session, self.clock(), viewer.name, viewer.role, AuditAction.LOGOUT)

    def one_time_user(self, token: str) -> tuple[str, str] | None:
        """The login and display names of the user a one-time link is for, if it works."""
        with self.db.session() as session:
            found = people.one_time_login(session, token, self.clock())
            return (found[1].name, found[1].display_name) if found else None

    def set_password(self, link_token: str, password: str) -> str:
        """Use a one-time link: set the password, end the user's other sessions, and log in.
        Raises WeakPassword, or LoginRefused when the link no longer works."""
        hashed = hash_password(password)
        now = self.clock()
        with self.db.session() as session:
            found = people.one_time_login(session, link_token, now)
            if found is None:
                raise LoginRefused("This link has been used or has expired; ask for a new one.")
            link, user = found
            assert user.id is not None
            link.used_at = now
            session.add(link)
            user.password_hash = hashed
            user.failed_logins = 0
            user.locked_until = None
            session.add(user)
            people.end_sessions(session, user.id)
            token, _row = people.start_session(
                session, user, now, now + self.settings.session_limit
            )
            audit(session, now, user.name, user.role, AuditAction.PASSWORD_SET)
            audit(session, now, user.name, user.role, AuditAction.LOGIN, via="one-time link")
            return token
