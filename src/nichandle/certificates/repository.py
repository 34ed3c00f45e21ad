"""Every query over certificates, always scoped by account."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from nichandle.certificates.models import Certificate
from nichandle.contacts.models import Contact
from nichandle.paging import PageRequest


async def names_using(
    session: AsyncSession, account_id: int, contact_id: int, *, limit: int
) -> list[str]:
    query = (
        select(Certificate.common_name)
        .where(Certificate.account_id == account_id, Certificate.contact_id == contact_id)
        .order_by(Certificate.common_name)
        .limit(limit)
    )
    return list(await session.scalars(query))


_CERTIFICATE = (selectinload(Certificate.contact).joinedload(Contact.parent),)


async def by_id(session: AsyncSession, account_id: int, certificate_id: int) -> Certificate | None:
    query = (
        select(Certificate)
        .where(Certificate.account_id == account_id, Certificate.id == certificate_id)
        .options(*_CERTIFICATE)
    )
    certificate: Certificate | None = await session.scalar(query)
    return certificate


async def page(
    session: AsyncSession, account_id: int, request: PageRequest, *, contact_id: int | None
) -> tuple[Sequence[Certificate], int]:
    conditions = [Certificate.account_id == account_id]
    if contact_id is not None:
        conditions.append(Certificate.contact_id == contact_id)
    total = await session.scalar(select(func.count()).select_from(Certificate).where(*conditions))
    query = (
        select(Certificate)
        .where(*conditions)
        .options(*_CERTIFICATE)
        .order_by(Certificate.id)
        .offset(request.offset)
        .limit(request.per_page)
    )
    return (await session.scalars(query)).all(), total or 0


async def counts_by_contact(
    session: AsyncSession, account_id: int, contact_ids: Sequence[int]
) -> dict[int, int]:
    """Contact id -> how many of the account's certificates name it."""
    if not contact_ids:
        return {}
    query = (
        select(Certificate.contact_id, func.count())
        .where(Certificate.account_id == account_id, Certificate.contact_id.in_(contact_ids))
        .group_by(Certificate.contact_id)
    )
    return dict((await session.execute(query)).all())
