"""Queries for accounts, users and tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.models import Account, ApiToken, Membership, SiteSecret, User, WebSession


async def account_by_id(session: AsyncSession, account_id: int) -> Account | None:
    return await session.get(Account, account_id)


async def account_by_slug(session: AsyncSession, slug: str) -> Account | None:
    return await session.scalar(select(Account).where(Account.slug == slug))


async def lock_account(session: AsyncSession, account_id: int) -> None:
    """Serialises per-account invariants (one default contact, never no contact) on PostgreSQL;
    SQLite's single writer already serialises every write. FOR NO KEY UPDATE: FOR UPDATE would
    conflict with the key-share lock every insert of a row pointing at the account takes, and
    two such writers deadlocked."""
    query = select(Account.id).where(Account.id == account_id).with_for_update(key_share=True)
    await session.execute(query)


async def slugs_like(session: AsyncSession, base: str) -> set[str]:
    rows = await session.scalars(select(Account.slug).where(Account.slug.startswith(base)))
    return set(rows)


async def any_account(session: AsyncSession) -> bool:
    return (await session.scalar(select(Account.id).limit(1))) is not None


async def list_accounts(session: AsyncSession) -> Sequence[Account]:
    return (await session.scalars(select(Account).order_by(Account.id))).all()


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def membership(session: AsyncSession, user_id: int, account_id: int) -> Membership | None:
    return await session.get(Membership, (user_id, account_id))


async def accounts_of_user(session: AsyncSession, user_id: int) -> Sequence[Account]:
    query = (
        select(Account)
        .join(Membership, Membership.account_id == Account.id)
        .where(Membership.user_id == user_id)
        .order_by(Account.id)
    )
    return (await session.scalars(query)).all()


async def token_by_hash(
    session: AsyncSession, token_hash: str
) -> tuple[ApiToken, Account | None] | None:
    """The token with this hash and, for an account token, its account: one query, as every
    request asks it."""
    row = (await session.execute(_TOKEN_BY_HASH, {"token_hash": token_hash})).first()
    return None if row is None else (row[0], row[1])


# Built once (every request runs it): building it each time cost about as much as running it.
_TOKEN_BY_HASH = (
    select(ApiToken, Account)
    .outerjoin(Account, Account.id == ApiToken.account_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


async def tokens_of_account(session: AsyncSession, account_id: int) -> Sequence[ApiToken]:
    query = select(ApiToken).where(ApiToken.account_id == account_id).order_by(ApiToken.id)
    return (await session.scalars(query)).all()


async def tokens_of_user(session: AsyncSession, user_id: int) -> Sequence[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
    return (await session.scalars(query)).all()


async def token_by_id(session: AsyncSession, token_id: int) -> ApiToken | None:
    return await session.get(ApiToken, token_id)


async def touch_token(session: AsyncSession, token_id: int, at: datetime) -> None:
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=at))


async def owner_emails(session: AsyncSession, account_ids: Sequence[int]) -> dict[int, str]:
    """Account id -> the email of its earliest owner, for accounts that have one."""
    query = (
        select(Membership.account_id, User.email)
        .join(User, User.id == Membership.user_id)
        .where(Membership.account_id.in_(account_ids), Membership.role == "owner")
        .order_by(Membership.account_id, Membership.created_at.desc(), User.id.desc())
    )
    # Later rows overwrite earlier ones: the earliest owner, by the descending order, wins.
    rows = await session.execute(query)
    return dict(rows.all())


async def web_session_by_hash(
    session: AsyncSession, token_hash: str
) -> tuple[WebSession, User] | None:
    query = (
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == token_hash)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def set_web_session_account(session: AsyncSession, session_id: int, account_id: int) -> None:
    await session.execute(
        update(WebSession).where(WebSession.id == session_id).values(account_id=account_id)
    )


async def delete_ended_web_sessions(session: AsyncSession, user_id: int, now: datetime) -> None:
    """The user's sessions that expired or were signed out: nothing can use them again."""
    await session.execute(
        delete(WebSession).where(
            WebSession.user_id == user_id,
            or_(WebSession.expires_at <= now, WebSession.revoked_at.is_not(None)),
        )
    )


async def revoke_web_session(session: AsyncSession, session_id: int, at: datetime) -> None:
    await session.execute(
        update(WebSession)
        .where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=at)
    )


async def revoke_web_sessions(
    session: AsyncSession, user_id: int, at: datetime, *, keep: int | None = None
) -> None:
    """Signs every browser of the user out (but the session ``keep``)."""
    query = update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(WebSession.id != keep)
    await session.execute(query.values(revoked_at=at))


async def site_secret(session: AsyncSession, name: str) -> str | None:
    return await session.scalar(select(SiteSecret.value).where(SiteSecret.name == name))


async def insert_site_secret(session: AsyncSession, name: str, value: str) -> None:
    """Inserts unless the name is taken (a concurrent maker's value stays)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    await session.execute(
        insert(SiteSecret).values(name=name, value=value).on_conflict_do_nothing()
    )


async def token_names(session: AsyncSession, token_ids: Sequence[int]) -> dict[int, str]:
    if not token_ids:
        return {}
    query = select(ApiToken.id, ApiToken.name).where(ApiToken.id.in_(token_ids))
    return dict((await session.execute(query)).all())


async def user_emails(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    query = select(User.id, User.email).where(User.id.in_(user_ids))
    return dict((await session.execute(query)).all())
