"""The console's people: accounts, sessions and one-time login links.

Tokens (a session's cookie, a one-time link) are random and shown once; only their SHA-256 is
stored, so reading the database does not let anyone in. Password hashing is the console's
(console/passwords.py): this module stores the hash it is given.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, select

from records.errors import NotFound, RecordsError
from records.tables import ConsoleSession, ConsoleUser, OneTimeLogin, Role

# 32 random bytes: a token nobody guesses, as urlsafe base64 (43 characters).
TOKEN_BYTES = 32


class UserExists(RecordsError):
    pass


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def add_user(
    session: Session, name: str, display_name: str, role: Role, now: datetime
) -> ConsoleUser:
    if find_user(session, name) is not None:
        raise UserExists(f"user {name!r} exists already")
    user = ConsoleUser(name=name, display_name=display_name, role=role, created_at=now)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, name: str) -> ConsoleUser | None:
    return session.exec(select(ConsoleUser).where(ConsoleUser.name == name)).first()


def user_named(session: Session, name: str) -> ConsoleUser:
    user = find_user(session, name)
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def all_users(session: Session) -> Sequence[ConsoleUser]:
    return session.exec(select(ConsoleUser).order_by(col(ConsoleUser.name))).all()


def end_sessions(session: Session, user_id: int) -> None:
    """Every session of the user ends now (disable, reset, password change)."""
    session.exec(delete(ConsoleSession).where(col(ConsoleSession.user_id) == user_id))


def issue_one_time_login(session: Session, user: ConsoleUser, until: datetime) -> str:
    """A new one-time link's token (the earlier unused ones of the user stop working)."""
    assert user.id is not None
    session.exec(delete(OneTimeLogin).where(col(OneTimeLogin.user_id) == user.id))
    token = new_token()
    session.add(OneTimeLogin(token_hash=token_hash(token), user_id=user.id, expires_at=until))
    return token


def one_time_login(
    session: Session, token: str, now: datetime
) -> tuple[OneTimeLogin, ConsoleUser] | None:
    """The unused, unexpired link of ``token`` and its active user, else None."""
    found = session.get(OneTimeLogin, token_hash(token))
    if found is None or found.used_at is not None or found.expires_at <= now:
        return None
    user = session.get(ConsoleUser, found.user_id)
    if user is None or not user.active:
        return None
    return found, user


def start_session(
    session: Session, user: ConsoleUser, now: datetime, until: datetime
) -> tuple[str, ConsoleSession]:
    """A new session: its cookie token (shown once) and its row."""
    assert user.id is not None
    token = new_token()
    row = ConsoleSession(
        token_hash=token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(TOKEN_BYTES),
        created_at=now,
        last_seen_at=now,
        expires_at=until,
    )
    session.add(row)
    return token, row


def live_session(
    session: Session, token: str, now: datetime, idle: timedelta
) -> tuple[ConsoleSession, ConsoleUser] | None:
    """The session of ``token`` if it is neither past its limit nor idle too long, and its
    user is active; it is marked seen now. An ended session is deleted."""
    row = session.get(ConsoleSession, token_hash(token))
    if row is None:
        return None
    user = session.get(ConsoleUser, row.user_id)
    if row.expires_at <= now or row.last_seen_at + idle <= now or user is None or not user.active:
        session.delete(row)
        return None
    row.last_seen_at = now
    session.add(row)
    return row, user


def end_session(session: Session, token: str) -> None:
    row = session.get(ConsoleSession, token_hash(token))
    if row is not None:
        session.delete(row)
