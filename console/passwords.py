"""Password hashing: argon2id with argon2-cffi's defaults (RFC 9106's second recommended
parameter set: 64 MiB, 3 passes), so a stolen database costs an attacker dearly per guess."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# NCSC guidance favours length over composition rules: a passphrase of three words passes.
MIN_PASSWORD_LENGTH = 12
_HASHER = PasswordHasher()
# Verified when the user is unknown, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a password anyone has")


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and bool(stored_hash)
    except (VerificationError, InvalidHashError):
        return False


def burn_time(password: str) -> None:
    """As long as a real check: an unknown name is not told apart by timing."""
    password_matches(_DUMMY_HASH, password + "\0")
