"""Accounts, users, tokens and who is acting: the rules of tenancy and authentication."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts import repository, tokens
from nichandle.accounts.models import Account, ApiToken, Membership, User
from nichandle.db.base import utcnow
from nichandle.errors import FieldErrors, NotFound, Unauthorized


@dataclass(frozen=True)
class Actor:
    """Who performs an operation, for which account, through which dialect."""

    account_id: int
    token_id: int | None
    dialect: str


@dataclass(frozen=True)
class Authentication:
    token: ApiToken
    account: Account
    # Whether last_used_at is stale enough to be written (throttled, so reads stay reads).
    needs_touch: bool


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:50] or "team"
    # A slug must never read as an id: X-Team accepts both.
    return f"team-{slug}" if slug.isdigit() else slug


async def create_account(
    session: AsyncSession, name: str, *, slug: str | None = None, owner_email: str | None = None
) -> Account:
    """Creates an account (team), optionally with an owner user."""
    name = name.strip()
    if not name:
        raise FieldErrors.single("name", "blank", "can't be blank")
    if slug is None:
        base = slugify(name)
        taken = await repository.slugs_like(session, base)
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
    elif slug != slugify(slug):
        raise FieldErrors.single(
            "slug", "invalid", "must be lowercase letters, digits and dashes, not only digits"
        )
    account = Account(name=name, slug=slug)
    session.add(account)
    await session.flush()
    if owner_email is not None:
        user = await ensure_user(session, owner_email)
        session.add(Membership(user_id=user.id, account_id=account.id, role="owner"))
        await session.flush()
    return account


async def ensure_user(session: AsyncSession, email: str) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise FieldErrors.single("email", "invalid", "is not an email address")
    user = await repository.user_by_email(session, email)
    if user is None:
        user = User(email=email)
        session.add(user)
        await session.flush()
    return user


async def add_member(session: AsyncSession, account: Account, email: str) -> User:
    """Adds a user (created if new) to an account."""
    user = await ensure_user(session, email)
    if await repository.membership(session, user.id, account.id) is None:
        session.add(Membership(user_id=user.id, account_id=account.id, role="member"))
        await session.flush()
    return user


async def get_account(session: AsyncSession, slug_or_id: str) -> Account:
    account = await repository.account_by_slug(session, slug_or_id)
    if account is None and slug_or_id.isdigit():
        account = await repository.account_by_id(session, int(slug_or_id))
    if account is None:
        raise NotFound(f"Account `{slug_or_id}` not found", code="account_not_found")
    return account


async def get_user(session: AsyncSession, email: str) -> User:
    user = await repository.user_by_email(session, email.strip().lower())
    if user is None:
        raise NotFound(f"User `{email}` not found", code="user_not_found")
    return user


async def any_account(session: AsyncSession) -> bool:
    return await repository.any_account(session)


async def list_accounts(session: AsyncSession) -> Sequence[Account]:
    return await repository.list_accounts(session)


async def create_token(
    session: AsyncSession,
    *,
    account: Account | None = None,
    user: User | None = None,
    name: str = "default",
) -> tuple[ApiToken, str]:
    """Creates an account token or a personal token; the secret is returned once, never stored."""
    if (account is None) == (user is None):
        raise ValueError("a token belongs to exactly one account or one user")
    secret = tokens.new_secret()
    token = ApiToken(
        account_id=account.id if account else None,
        user_id=user.id if user else None,
        name=name,
        token_hash=tokens.hash_secret(secret),
        token_prefix=tokens.display_prefix(secret),
    )
    session.add(token)
    await session.flush()
    return token, secret


async def list_tokens(
    session: AsyncSession, *, account: Account | None = None, user: User | None = None
) -> Sequence[ApiToken]:
    if account is not None:
        return await repository.tokens_of_account(session, account.id)
    if user is not None:
        return await repository.tokens_of_user(session, user.id)
    raise ValueError("list tokens of an account or of a user")


async def revoke_token(session: AsyncSession, token_id: int) -> ApiToken:
    token = await repository.token_by_id(session, token_id)
    if token is None:
        raise NotFound(f"Token `{token_id}` not found", code="token_not_found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await session.flush()
    return token


async def authenticate(
    session: AsyncSession,
    secret: str | None,
    *,
    team: str | None = None,
    touch_after: timedelta = timedelta(seconds=60),
) -> Authentication:
    """Resolves a bearer secret (and, for personal tokens, the team asked for) to an account."""
    if not secret:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token>")
    token = await repository.token_by_hash(session, tokens.hash_secret(secret))
    if token is None or token.revoked_at is not None:
        raise Unauthorized("Authentication failed: the token is unknown or revoked")
    account = await _account_for(session, token, team)
    now = utcnow()
    stale = token.last_used_at is None or now - token.last_used_at >= touch_after
    return Authentication(token=token, account=account, needs_touch=stale)


async def _account_for(session: AsyncSession, token: ApiToken, team: str | None) -> Account:
    if token.account_id is not None:
        account = await repository.account_by_id(session, token.account_id)
        if account is None:  # pragma: no cover - cascade deletes the token with its account
            raise Unauthorized("Authentication failed: the token's account is gone")
        if team is not None and team not in (str(account.id), account.slug):
            raise NotFound(f"Team `{team}` not found", code="account_not_found")
        return account
    assert token.user_id is not None  # noqa: S101 - guaranteed by the check constraint
    accounts = await repository.accounts_of_user(session, token.user_id)
    if team is None:
        if len(accounts) == 1:
            return accounts[0]
        if not accounts:
            raise Unauthorized("This personal token's user belongs to no team")
        raise Unauthorized("This personal token can act for several teams: send X-Team: <id|slug>")
    for account in accounts:
        if team in (str(account.id), account.slug):
            return account
    raise NotFound(f"Team `{team}` not found", code="account_not_found")


async def accounts_for_token(session: AsyncSession, token: ApiToken) -> Sequence[Account]:
    """The accounts a token may act for."""
    if token.account_id is not None:
        account = await repository.account_by_id(session, token.account_id)
        return [account] if account else []
    assert token.user_id is not None  # noqa: S101
    return await repository.accounts_of_user(session, token.user_id)


async def record_token_use(
    session: AsyncSession, token_id: int, at: datetime | None = None
) -> None:
    await repository.touch_token(session, token_id, at or utcnow())
