"""Web UI sign-in: users' passwords and their browser sessions (revocable, expiring)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts import passwords, repository, tokens
from nichandle.accounts.models import Account, Membership, User, WebSession
from nichandle.accounts.service import ensure_user
from nichandle.db.base import utcnow
from nichandle.errors import FieldErrors, NotFound, Unauthorized

# The cookie signing key's row in site_secret.
SIGNING_KEY = "web_signing_key"


@dataclass(frozen=True)
class SignedIn:
    """A live web session with its user, the accounts the user may work in, and the current
    one (None: the user belongs to no account)."""

    session: WebSession
    user: User
    accounts: Sequence[Account]
    account: Account | None


async def create_user(
    session: AsyncSession,
    email: str,
    account: Account,
    password: str | None,
    *,
    one_time: bool = False,
) -> User:
    """A user (created if new) in ``account``, with ``password`` if given; ``one_time``: the
    user must choose a new one at the first sign-in."""
    hashed = passwords.hash_password(password) if password is not None else None
    user = await ensure_user(session, email)
    if await repository.membership(session, user.id, account.id) is None:
        session.add(Membership(user_id=user.id, account_id=account.id, role="member"))
    if hashed is not None:
        user.password_hash = hashed
        user.password_change_required = one_time
    await session.flush()
    return user


async def set_password(session: AsyncSession, email: str, password: str) -> User:
    """Sets a user's password and signs every browser of the user out."""
    hashed = passwords.hash_password(password)
    user = await repository.user_by_email(session, email.strip().lower())
    if user is None:
        raise NotFound(f"User `{email}` not found", code="user_not_found")
    user.password_hash = hashed
    user.password_change_required = False
    await repository.revoke_web_sessions(session, user.id, utcnow())
    await session.flush()
    return user


async def change_password(session: AsyncSession, who: SignedIn, current: str, new: str) -> None:
    """The signed-in user replaces its password (the current one proves it is them); every
    other browser of the user is signed out."""
    user = await repository.user_by_id(session, who.user.id)
    matched = await asyncio.to_thread(
        passwords.verify, user.password_hash if user else None, current
    )
    if user is None or not matched:
        raise FieldErrors.single("current_password", "wrong", "is not your current password")
    if new == current:
        raise FieldErrors.single("password", "unchanged", "must differ from the current one")
    user.password_hash = passwords.hash_password(new)
    user.password_change_required = False
    await repository.revoke_web_sessions(session, user.id, utcnow(), keep=who.session.id)
    await session.flush()


async def check_password(session: AsyncSession, email: str, password: str) -> User:
    """The user whose email and password these are; one refusal for every mismatch."""
    user = await repository.user_by_email(session, email.strip().lower())
    # In a thread: argon2 takes tens of milliseconds of CPU on purpose.
    matched = await asyncio.to_thread(
        passwords.verify, user.password_hash if user else None, password
    )
    if not matched or user is None:
        raise Unauthorized("The email or the password is wrong")
    return user


async def open_session(
    session: AsyncSession, user: User, *, lifetime: timedelta
) -> tuple[WebSession, str]:
    """A new session for ``user`` in its first account; the secret (the cookie's) is returned
    once, its hash kept. The user's ended sessions go (a cookie naming one is refused as
    unknown, as it was as ended), so they never pile up."""
    accounts = await repository.accounts_of_user(session, user.id)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    await repository.delete_ended_web_sessions(session, user.id, now)
    web_session = WebSession(
        user_id=user.id,
        account_id=accounts[0].id if accounts else None,
        token_hash=tokens.hash_secret(secret),
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(web_session)
    await session.flush()
    return web_session, secret


async def signed_in(session: AsyncSession, secret: str | None) -> SignedIn:
    """The live session a cookie's secret names; unknown, expired or signed out is refused."""
    found = await repository.web_session_by_hash(session, tokens.hash_secret(secret or ""))
    if found is None:
        raise Unauthorized("Sign in first")
    web_session, user = found
    if web_session.revoked_at is not None or web_session.expires_at <= utcnow():
        raise Unauthorized("The session has ended; sign in again")
    accounts = await repository.accounts_of_user(session, user.id)
    # A membership removed since: the session falls back to the user's first account.
    current = next((a for a in accounts if a.id == web_session.account_id), None)
    if current is None and accounts:
        current = accounts[0]
    return SignedIn(web_session, user, accounts, current)


async def switch_account(session: AsyncSession, who: SignedIn, slug: str) -> Account:
    """Makes one of the user's accounts the session's current one."""
    for account in who.accounts:
        if account.slug == slug:
            await repository.set_web_session_account(session, who.session.id, account.id)
            return account
    raise NotFound(f"Team `{slug}` not found", code="account_not_found")


async def close_session(session: AsyncSession, web_session_id: int) -> None:
    """Signs a browser out: its cookie names a revoked session from now on."""
    await repository.revoke_web_session(session, web_session_id, utcnow())


async def signing_key(session: AsyncSession) -> str:
    """The installation's cookie signing key, made on first use (the first of racing makers
    wins: everyone reads the stored one back)."""
    key = await repository.site_secret(session, SIGNING_KEY)
    if key is None:
        await repository.insert_site_secret(session, SIGNING_KEY, secrets.token_urlsafe(48))
        key = await repository.site_secret(session, SIGNING_KEY)
    assert key is not None  # noqa: S101 - inserted above, or by a concurrent maker
    return key
