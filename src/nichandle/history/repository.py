"""Queries over contact versions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.history.models import ContactVersion


async def versions_of_handle(
    session: AsyncSession, account_id: int, handle: str, *, offset: int, limit: int
) -> tuple[Sequence[ContactVersion], int]:
    where = (ContactVersion.account_id == account_id, ContactVersion.handle == handle)
    total = await session.scalar(select(func.count()).select_from(ContactVersion).where(*where))
    rows = await session.scalars(
        select(ContactVersion).where(*where).order_by(ContactVersion.id).offset(offset).limit(limit)
    )
    return rows.all(), total or 0
