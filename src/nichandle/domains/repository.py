"""Every query over domains, their roles and certificates, always scoped by account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, bindparam, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from nichandle.contacts.models import Contact
from nichandle.domains.models import ROLES, Certificate, Domain, DomainContact
from nichandle.paging import PageRequest

# Role contacts come with their parent, so every dialect can render them without more queries.
_WITH_ROLES = (
    selectinload(Domain.roles).joinedload(DomainContact.contact).joinedload(Contact.parent)
)


SORT_COLUMNS = {"id": Domain.id, "name": Domain.name, "expiration": Domain.expires_at}


@dataclass(frozen=True)
class DomainFilter:
    query: str | None = None
    # Domains that use this contact in any role (explicitly, or through the default).
    contact_id: int | None = None
    contact_is_default: bool = False
    registrant_id: int | None = None
    registrant_is_default: bool = False


# Built once, with bound parameters (every GetDomain runs one; see contacts.repository).
_IN_ACCOUNT = (
    select(Domain).where(Domain.account_id == bindparam("account_id")).options(_WITH_ROLES)
)
_BY_NAME = _IN_ACCOUNT.where(Domain.name == bindparam("name"))
_BY_ID = _IN_ACCOUNT.where(Domain.id == bindparam("domain_id"))


async def by_name(session: AsyncSession, account_id: int, name: str) -> Domain | None:
    domain: Domain | None = await session.scalar(_BY_NAME, {"account_id": account_id, "name": name})
    return domain


async def by_id(session: AsyncSession, account_id: int, domain_id: int) -> Domain | None:
    domain: Domain | None = await session.scalar(
        _BY_ID, {"account_id": account_id, "domain_id": domain_id}
    )
    return domain


def _has_role(account_id: int, role: str | None, contact_id: int) -> ColumnElement[bool]:
    # The domains found from the contact's role rows (index on account_id, contact_id), not
    # each of the account's domains checked for one: SQLite planned a correlated EXISTS as a
    # walk over every domain (100 ms at 100k domains).
    match = select(DomainContact.domain_id).where(
        DomainContact.account_id == account_id, DomainContact.contact_id == contact_id
    )
    if role is not None:
        match = match.where(DomainContact.role == role)
    return Domain.id.in_(match)


def _missing_role(role: str | None) -> ColumnElement[bool]:
    """The domain leaves ``role`` (or, with None, any role) to the account default."""
    if role is not None:
        return ~exists(
            select(DomainContact.domain_id).where(
                DomainContact.domain_id == Domain.id, DomainContact.role == role
            )
        )
    count = (
        select(func.count())
        .select_from(DomainContact)
        .where(DomainContact.domain_id == Domain.id)
        .scalar_subquery()
    )
    return count < len(ROLES)


def _conditions(account_id: int, where: DomainFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Domain.account_id == account_id]
    if where.query:
        conditions.append(func.lower(Domain.name).contains(where.query.lower(), autoescape=True))
    if where.contact_id is not None:
        uses = _has_role(account_id, None, where.contact_id)
        if where.contact_is_default:
            uses = or_(uses, _missing_role(None))
        conditions.append(uses)
    if where.registrant_id is not None:
        uses = _has_role(account_id, "registrant", where.registrant_id)
        if where.registrant_is_default:
            uses = or_(uses, _missing_role("registrant"))
        conditions.append(uses)
    return conditions


async def page(
    session: AsyncSession,
    account_id: int,
    where: DomainFilter,
    request: PageRequest,
    sort: Sequence[tuple[str, bool]] = (),
) -> tuple[Sequence[Domain], int]:
    conditions = _conditions(account_id, where)
    total = await session.scalar(select(func.count()).select_from(Domain).where(*conditions))
    order = [SORT_COLUMNS[name].desc() if desc else SORT_COLUMNS[name].asc() for name, desc in sort]
    query = (
        select(Domain)
        .where(*conditions)
        .options(_WITH_ROLES)
        .order_by(*order, Domain.id)
        .offset(request.offset)
        .limit(request.per_page)
    )
    return (await session.scalars(query)).all(), total or 0


async def all_matching(
    session: AsyncSession, account_id: int, where: DomainFilter
) -> Sequence[Domain]:
    query = select(Domain).where(*_conditions(account_id, where)).options(_WITH_ROLES)
    return (await session.scalars(query.order_by(Domain.id))).all()


async def role_rows_of_contact(
    session: AsyncSession, account_id: int, contact_id: int, *, include_unset: bool
) -> Sequence[tuple[int, str, str | None]]:
    """(domain id, domain name, role) for each role that resolves to the contact.

    With ``include_unset`` (the contact is the default) also every domain that leaves a role
    unset, as (id, name, None) rows the caller expands to the missing roles.
    """
    explicit = (
        select(Domain.id, Domain.name, DomainContact.role)
        .join(DomainContact, DomainContact.domain_id == Domain.id)
        .where(
            Domain.account_id == account_id,
            # Scoped on the role rows too, so both databases start from their (account_id,
            # contact_id) index rather than from every domain of the account.
            DomainContact.account_id == account_id,
            DomainContact.contact_id == contact_id,
        )
    )
    rows: list[tuple[int, str, str | None]] = [tuple(r) for r in await session.execute(explicit)]  # type: ignore[misc]
    if include_unset:
        unset = select(Domain.id, Domain.name).where(
            Domain.account_id == account_id, _missing_role(None)
        )
        rows.extend((r[0], r[1], None) for r in await session.execute(unset))
    return rows


async def roles_set_of(session: AsyncSession, domain_ids: Sequence[int]) -> dict[int, set[str]]:
    query = select(DomainContact.domain_id, DomainContact.role).where(
        DomainContact.domain_id.in_(domain_ids)
    )
    found: dict[int, set[str]] = {}
    for domain_id, role in await session.execute(query):
        found.setdefault(domain_id, set()).add(role)
    return found


async def domain_names_using(
    session: AsyncSession, account_id: int, contact_id: int, *, limit: int
) -> list[str]:
    # From the contact's role rows, then their domains: with the filter as a subquery, SQLite
    # walked every domain of the account in name order to find the first few.
    query = (
        select(Domain.name)
        .distinct()
        .join(DomainContact, DomainContact.domain_id == Domain.id)
        .where(
            Domain.account_id == account_id,
            DomainContact.account_id == account_id,
            DomainContact.contact_id == contact_id,
        )
        .order_by(Domain.name)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def certificate_names_using(
    session: AsyncSession, account_id: int, contact_id: int, *, limit: int
) -> list[str]:
    query = (
        select(Certificate.common_name)
        .where(Certificate.account_id == account_id, Certificate.contact_id == contact_id)
        .order_by(Certificate.common_name)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def delete_roles(session: AsyncSession, domain_id: int, roles: Sequence[str]) -> None:
    await session.execute(
        delete(DomainContact).where(
            DomainContact.domain_id == domain_id, DomainContact.role.in_(roles)
        )
    )


_CERTIFICATE = (selectinload(Certificate.contact).joinedload(Contact.parent),)


async def certificate_by_id(
    session: AsyncSession, account_id: int, certificate_id: int
) -> Certificate | None:
    query = (
        select(Certificate)
        .where(Certificate.account_id == account_id, Certificate.id == certificate_id)
        .options(*_CERTIFICATE)
    )
    certificate: Certificate | None = await session.scalar(query)
    return certificate


async def certificates_page(
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
