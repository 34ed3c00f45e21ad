"""Web UI passwords: argon2id through argon2-cffi, at least 12 characters."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from nichandle.errors import FieldErrors

MIN_LENGTH = 12
MAX_LENGTH = 1024  # hashing a megabyte of "password" is a denial of service, not a password

_hasher = PasswordHasher()
# Verified against when the email names no user, so a wrong email costs what a wrong password
# costs: the time of an answer tells nobody which emails exist.
_NOBODY = _hasher.hash("no user has this password, it only takes time")


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise FieldErrors.single(
            "password", "too_short", f"must be at least {MIN_LENGTH} characters"
        )
    if len(password) > MAX_LENGTH:
        raise FieldErrors.single("password", "too_long", f"must be at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (None: no user, or no password set)."""
    try:
        matched = _hasher.verify(stored or _NOBODY, password[:MAX_LENGTH])
    except (VerificationError, InvalidHashError):
        return False
    return matched and stored is not None
