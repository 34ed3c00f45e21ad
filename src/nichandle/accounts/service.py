"""Accounts, users, tokens and who is acting: the rules of tenancy and authentication."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts import repository, tokens
from nichandle.accounts.models import Account, ApiToken, Membership, User
from nichandle.db.base import utcnow
from nichandle.db.session import violated_constraint
from nichandle.errors import Conflict, FieldErrors, NotFound, Unauthorized


@dataclass(frozen=True)
class Actor:
    """Who performs an operation, for which account, through which dialect."""

    account_id: int
    token_id: int | None  # None: nichandle itself (the worker, a deadline)
    dialect: str
    # The request that caused the change (X-Request-Id), carried into its events.
    request_id: str | None = None
    # A web UI user acting through a session (token_id None), for history's "who".
    user_id: int | None = None


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


MAX_NAME_LENGTH = 200
MAX_TOKEN_NAME_LENGTH = 100
_SLUG_ATTEMPTS = 5


async def create_account(
    session: AsyncSession, name: str, *, slug: str | None = None, owner_email: str | None = None
) -> Account:
    """Creates an account (team), optionally with an owner user."""
    name = name.strip()
    if not name:
        raise FieldErrors.single("name", "blank", "can't be blank")
    if len(name) > MAX_NAME_LENGTH:
        raise FieldErrors.single("name", "too_long", f"is too long (maximum {MAX_NAME_LENGTH})")
    if slug is not None and slug != slugify(slug):
        raise FieldErrors.single(
            "slug",
            "invalid",
            "must be up to 50 lowercase letters, digits and dashes, not only digits",
        )
    account = await _insert_account(session, name, slug)
    if owner_email is not None:
        user = await ensure_user(session, owner_email)
        session.add(Membership(user_id=user.id, account_id=account.id, role="owner"))
        await session.flush()
    return account


async def _insert_account(session: AsyncSession, name: str, slug: str | None) -> Account:
    """Inserts with the given slug, or the first free one derived from the name; a derived slug
    taken by a concurrent create is simply derived again."""
    for _ in range(_SLUG_ATTEMPTS):
        chosen = slug or await _free_slug(session, slugify(name))
        account = Account(name=name, slug=chosen, default_nameservers=[])
        try:
            async with session.begin_nested():
                session.add(account)
        except IntegrityError as exc:
            if slug is not None or violated_constraint(exc) != "uq_account_slug":
                raise
            continue
        return account
    raise Conflict("Could not find a free slug; retry", code="account_slug_taken")


async def _free_slug(session: AsyncSession, base: str) -> str:
    taken = await repository.slugs_like(session, base)
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


async def ensure_user(session: AsyncSession, email: str) -> User:
    try:
        # Logins of a self-hosted install may use test domains (RFC 6761 .test), unlike
        # contacts, whose email a registry publishes.
        checked = validate_email(email.strip(), check_deliverability=False, test_environment=True)
        email = checked.normalized.lower()
    except EmailNotValidError as exc:
        raise FieldErrors.single("email", "invalid", f"is not an email address ({exc})") from exc
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
    name = name.strip()
    if not name or len(name) > MAX_TOKEN_NAME_LENGTH:
        raise FieldErrors.single(
            "name", "invalid", f"must be 1 to {MAX_TOKEN_NAME_LENGTH} characters"
        )
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


async def revoke_token(
    session: AsyncSession, token_id: int, *, account_id: int | None = None
) -> ApiToken:
    """Revokes a token; with ``account_id`` only one of that account's tokens."""
    token = await repository.token_by_id(session, token_id)
    if token is None or (account_id is not None and token.account_id != account_id):
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
    token, token_account = await _live_token(session, secret)
    account = await _account_for(session, token, token_account, team)
    return Authentication(token=token, account=account, needs_touch=_stale(token, touch_after))


async def _live_token(session: AsyncSession, secret: str | None) -> tuple[ApiToken, Account | None]:
    """The token a bearer secret names, with its account for an account token, unless unknown
    or revoked."""
    if not secret:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token>")
    found = await repository.token_by_hash(session, tokens.hash_secret(secret))
    if found is None or found[0].revoked_at is not None:
        raise Unauthorized("Authentication failed: the token is unknown or revoked")
    return found


def _stale(token: ApiToken, touch_after: timedelta) -> bool:
    """Whether last_used_at is old enough to be written again (throttled: reads stay reads)."""
    return token.last_used_at is None or utcnow() - token.last_used_at >= touch_after


async def _account_for(
    session: AsyncSession, token: ApiToken, account: Account | None, team: str | None
) -> Account:
    """The account a token acts for: an account token's own (``account``, loaded with it), or
    the personal token user's only team or the one ``team`` names."""
    if token.account_id is not None:
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


async def authenticate_basic(
    session: AsyncSession,
    username: str | None,
    secret: str | None,
    *,
    team: str | None = None,
    touch_after: timedelta = timedelta(seconds=60),
) -> Authentication:
    """Resolves HTTP Basic ``username:token`` (name.com) to an account.

    The username says whose token it is: the account's slug for one of that account's tokens,
    or a user's email for that user's personal token (acting for the user's only team, or the
    one X-Team names). A token that is not the username's is refused like an unknown one, so
    a caller learns nothing about other accounts.
    """
    if not username or not secret:
        raise Unauthorized("Authentication required: send HTTP Basic <username>:<token>")
    name = username.strip().lower()
    by_email = "@" in name
    try:
        auth = await authenticate(
            session, secret, team=team if by_email else None, touch_after=touch_after
        )
    except NotFound as exc:  # X-Team names a team the user is not in
        raise Unauthorized(f"Authentication failed: {exc.message}") from exc
    if by_email:
        user = await repository.user_by_email(session, name)
        paired = user is not None and auth.token.user_id == user.id
    else:
        paired = auth.token.account_id is not None and auth.account.slug == name
    if not paired:
        raise Unauthorized("Authentication failed: the token does not belong to this username")
    return auth


@dataclass(frozen=True)
class Identity:
    """Who a token speaks for before any account is chosen: its user (personal tokens) and
    the accounts it may act for."""

    token: ApiToken
    user: User | None
    accounts: Sequence[Account]
    needs_touch: bool


async def identify(
    session: AsyncSession, secret: str | None, *, touch_after: timedelta = timedelta(seconds=60)
) -> Identity:
    """Resolves a bearer secret to its token, user and accounts, without choosing an account."""
    token, account = await _live_token(session, secret)
    user: User | None = None
    if token.user_id is None:  # an account token acts for its own account only
        accounts: Sequence[Account] = [account] if account else []
    else:
        user = await repository.user_by_id(session, token.user_id)
        accounts = await repository.accounts_of_user(session, token.user_id)
    return Identity(
        token=token, user=user, accounts=accounts, needs_touch=_stale(token, touch_after)
    )


async def account_emails(session: AsyncSession, accounts: Sequence[Account]) -> dict[int, str]:
    """Account id -> the account owner's email (through a membership), "" without an owner."""
    found = await repository.owner_emails(session, [account.id for account in accounts])
    return {account.id: found.get(account.id, "") for account in accounts}


async def actor_names(
    session: AsyncSession, token_ids: Sequence[int], user_ids: Sequence[int]
) -> tuple[dict[int, str], dict[int, str]]:
    """Token id -> its name, user id -> the user's email: history's "who"."""
    return (
        await repository.token_names(session, sorted(set(token_ids))),
        await repository.user_emails(session, sorted(set(user_ids))),
    )


async def record_token_use(
    session: AsyncSession, token_id: int, at: datetime | None = None
) -> None:
    await repository.touch_token(session, token_id, at or utcnow())
