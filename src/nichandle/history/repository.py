"""Queries over contact versions and domain role changes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.history.models import ContactVersion, DomainRoleChange


async def versions_of_handle(
    session: AsyncSession, account_id: int, handle: str, *, offset: int, limit: int
) -> tuple[Sequence[ContactVersion], int]:
    where = (ContactVersion.account_id == account_id, ContactVersion.handle == handle)
    total = await session.scalar(select(func.count()).select_from(ContactVersion).where(*where))
    rows = await session.scalars(
        select(ContactVersion).where(*where).order_by(ContactVersion.id).offset(offset).limit(limit)
    )
    return rows.all(), total or 0


async def role_changes_of_domain(
    session: AsyncSession, account_id: int, domain_id: int, *, limit: int
) -> Sequence[DomainRoleChange]:
    """The domain's latest role changes, newest first (the index on (account_id, domain_id))."""
    query = (
        select(DomainRoleChange)
        .where(DomainRoleChange.account_id == account_id, DomainRoleChange.domain_id == domain_id)
        .order_by(DomainRoleChange.id.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()
