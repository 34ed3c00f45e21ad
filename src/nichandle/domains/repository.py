"""Every query over domains and their roles, always scoped by account."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Subquery,
    Table,
    bindparam,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from nichandle.contacts.models import Contact
from nichandle.db.lists import among
from nichandle.db.rows import insert_rows
from nichandle.domains.models import ROLES, Domain, DomainContact, DomainStatus
from nichandle.paging import PageRequest

# Role contacts come with their parent, so every dialect can render them without more queries.
_WITH_ROLES = (
    selectinload(Domain.roles).joinedload(DomainContact.contact).joinedload(Contact.parent)
)


SORT_COLUMNS = {"id": Domain.id, "name": Domain.name, "expiration": Domain.expires_at}


@dataclass(frozen=True)
class UsedBy:
    """A contact as the domains' roles see it: its own role rows, and, while it is the
    account's default, every role a domain leaves unset."""

    contact_id: int
    is_default: bool


@dataclass(frozen=True)
class DomainFilter:
    query: str | None = None
    # Domains with a role (any, or the registrant's) that resolves to this contact.
    contact: UsedBy | None = None
    registrant: UsedBy | None = None


# Built once, with bound parameters (every GetDomain runs one; see contacts.repository).
_IN_ACCOUNT = (
    select(Domain).where(Domain.account_id == bindparam("account_id")).options(_WITH_ROLES)
)
_BY_NAME = _IN_ACCOUNT.where(Domain.name == bindparam("name"))
_BY_ID = _IN_ACCOUNT.where(Domain.id == bindparam("domain_id"))


# A write reads the domain it changes locked, and as it is now (not as this session last saw
# it): concurrent changes of one domain's roles queue instead of overwriting each other.
_LOCKED = {"populate_existing": True}
_LOCK_BY_NAME = _BY_NAME.with_for_update().execution_options(**_LOCKED)
_LOCK_BY_ID = _BY_ID.with_for_update().execution_options(**_LOCKED)


async def by_name(
    session: AsyncSession, account_id: int, name: str, *, lock: bool = False
) -> Domain | None:
    domain: Domain | None = await session.scalar(
        _LOCK_BY_NAME if lock else _BY_NAME, {"account_id": account_id, "name": name}
    )
    return domain


async def by_id(
    session: AsyncSession, account_id: int, domain_id: int, *, lock: bool = False
) -> Domain | None:
    domain: Domain | None = await session.scalar(
        _LOCK_BY_ID if lock else _BY_ID, {"account_id": account_id, "domain_id": domain_id}
    )
    return domain


@functools.lru_cache(maxsize=32)
def resolved_roles(
    is_default: bool, role: str | None = None, *, explicit: bool = True, name: str = "contact_id"
) -> Subquery:
    """(domain_id, role, own) for every role that resolves to the contact bound as ``name`` (in
    the account bound as ``account_id``), the default fallback included (only that with
    ``explicit=False``; ``own``: by the domain's own role row, not the fallback): the one
    statement behind the fan-out to registry sync, the delete refusal, the ``contact=`` /
    ``registrant_id`` filters and ``expand[]=domains``. Built once per shape, as every PATCH of
    a contact runs it."""
    account_id = bindparam("account_id", type_=Integer)
    roles = ROLES if role is None else (role,)
    # From the contact's role rows (index on account_id, contact_id), not each of the account's
    # domains checked for one: SQLite planned a correlated EXISTS as a walk over every domain.
    rows = select(DomainContact.domain_id, DomainContact.role, true().label("own")).where(
        DomainContact.account_id == account_id, DomainContact.contact_id == bindparam(name)
    )
    if role is not None:
        rows = rows.where(DomainContact.role == role)
    parts: list[Select[int, str, bool]] = [rows] if explicit else []
    if is_default:
        parts += [
            select(
                Domain.id.label("domain_id"),
                literal(fallback, String).label("role"),
                false().label("own"),
            ).where(
                Domain.account_id == account_id,
                ~exists().where(
                    DomainContact.domain_id == Domain.id, DomainContact.role == fallback
                ),
            )
            for fallback in roles
        ]
    if not parts:
        parts = [rows.where(false())]  # not the default: no fallback roles
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("resolved")


def _conditions(account_id: int, where: DomainFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Domain.account_id == account_id]
    if where.query:
        conditions.append(func.lower(Domain.name).contains(where.query.lower(), autoescape=True))
    if where.contact is not None:
        resolved = resolved_roles(where.contact.is_default)
        conditions.append(Domain.id.in_(select(resolved.c.domain_id)))
    if where.registrant is not None:
        resolved = resolved_roles(where.registrant.is_default, "registrant", name="registrant_id")
        conditions.append(Domain.id.in_(select(resolved.c.domain_id)))
    return conditions


async def page(
    session: AsyncSession,
    account_id: int,
    where: DomainFilter,
    request: PageRequest,
    sort: Sequence[tuple[str, bool]] = (),
) -> tuple[Sequence[Domain], int]:
    conditions = _conditions(account_id, where)
    # The values resolved_roles binds.
    params = {
        "account_id": account_id,
        "contact_id": where.contact.contact_id if where.contact else None,
        "registrant_id": where.registrant.contact_id if where.registrant else None,
    }
    total = await session.scalar(
        select(func.count()).select_from(Domain).where(*conditions), params
    )
    order = [SORT_COLUMNS[name].desc() if desc else SORT_COLUMNS[name].asc() for name, desc in sort]
    query = (
        select(Domain)
        .where(*conditions)
        .options(_WITH_ROLES)
        .order_by(*order, Domain.id)
        .offset(request.offset)
        .limit(request.per_page)
    )
    return (await session.scalars(query, params)).all(), total or 0


@functools.lru_cache(maxsize=16)
def _roles_used_by(is_default: bool, explicit: bool, limited: bool) -> Select[int, str, str]:
    resolved = resolved_roles(is_default, explicit=explicit)
    in_account = Domain.account_id == bindparam("account_id")
    query = (
        select(Domain.id, Domain.name, resolved.c.role)
        .join(resolved, resolved.c.domain_id == Domain.id)
        .where(in_account)
        .order_by(Domain.name)
    )
    if not limited:
        # Every domain: the roles once (evaluating them a second time for the domain list cost
        # a registrant of 10,000 domains half of this query).
        return query
    domains = select(Domain.id).where(in_account, Domain.id.in_(select(resolved.c.domain_id)))
    domains = domains.order_by(Domain.name).limit(bindparam("limit"))
    return query.where(Domain.id.in_(domains))


async def roles_used_by(
    session: AsyncSession,
    account_id: int,
    user: UsedBy,
    *,
    limit: int | None = None,
    explicit: bool = True,
) -> list[tuple[int, str, list[str]]]:
    """(domain id, name, roles) of the domains whose roles resolve to the contact (resolved_roles),
    by name; the first ``limit`` domains when given."""
    query = _roles_used_by(user.is_default, explicit, limit is not None)
    params = {"account_id": account_id, "contact_id": user.contact_id, "limit": limit}
    found: dict[int, tuple[int, str, list[str]]] = {}
    for domain_id, name, role in await session.execute(query, params):
        found.setdefault(domain_id, (domain_id, name, []))[2].append(role)
    for _id, _name, roles in found.values():
        roles.sort(key=ROLES.index)
    return list(found.values())


@functools.lru_cache(maxsize=4)
def _registrant_of(is_default: bool, explicit: bool) -> Select[int, str, bool]:
    resolved = resolved_roles(is_default, "registrant", explicit=explicit)
    return (
        select(Domain.id, Domain.name, resolved.c.own)
        .join(resolved, resolved.c.domain_id == Domain.id)
        .where(Domain.account_id == bindparam("account_id"))
        .order_by(Domain.name)
    )


async def registrant_of(
    session: AsyncSession, account_id: int, user: UsedBy, *, explicit: bool = True
) -> list[tuple[int, str, bool]]:
    """(domain id, name, own) of the domains whose registrant resolves to the contact
    (resolved_roles), by name; ``own``: by the domain's own role row, not as the default
    standing in for an unset one."""
    query = _registrant_of(user.is_default, explicit)
    params = {"account_id": account_id, "contact_id": user.contact_id}
    return [
        (domain_id, name, bool(own))
        for domain_id, name, own in await session.execute(query, params)
    ]


async def roles_held(
    session: AsyncSession,
    account_id: int,
    contact_id: int,
    roles: Sequence[str],
    *,
    names: Sequence[str] | None = None,
) -> list[tuple[int, str, list[str]]]:
    """(domain id, name, roles) of the domains whose own role rows name the contact in one of
    ``roles`` (the default fallback not included), by name; only the ``names`` when given."""
    query = (
        select(Domain.id, Domain.name, DomainContact.role)
        .join(DomainContact, DomainContact.domain_id == Domain.id)
        .where(
            DomainContact.account_id == account_id,
            DomainContact.contact_id == contact_id,
            DomainContact.role.in_(roles),
            Domain.account_id == account_id,
        )
        .order_by(Domain.name)
    )
    if names is not None:
        query = query.where(Domain.name.in_(names))
    found: dict[int, tuple[int, str, list[str]]] = {}
    for domain_id, name, role in await session.execute(query):
        found.setdefault(domain_id, (domain_id, name, []))[2].append(role)
    for _id, _name, held in found.values():
        held.sort(key=ROLES.index)
    return list(found.values())


async def names_in_account(
    session: AsyncSession, account_id: int, names: Sequence[str]
) -> set[str]:
    """Those of ``names`` (A-labels) that are domains of the account."""
    query = select(Domain.name).where(Domain.account_id == account_id, Domain.name.in_(names))
    return set((await session.scalars(query)).all())


async def count_unset(
    session: AsyncSession, account_id: int, roles: Sequence[str], *, names: Sequence[str] | None
) -> int:
    """How many of the account's domains (of ``names``, when given) leave one of ``roles``
    unset, to the default contact."""
    held = (
        select(func.count())
        .where(DomainContact.domain_id == Domain.id, DomainContact.role.in_(roles))
        .scalar_subquery()
    )
    query = (
        select(func.count())
        .select_from(Domain)
        .where(Domain.account_id == account_id, held < len(set(roles)))
    )
    if names is not None:
        query = query.where(Domain.name.in_(names))
    return await session.scalar(query) or 0


async def lock_many(
    session: AsyncSession, account_id: int, domain_ids: Sequence[int]
) -> list[Domain]:
    """The domains with their roles, locked as by_id(lock=True) and in id order, so writers
    locking several never wait on each other in a cycle; deleted ones are left out."""
    query = (
        _IN_ACCOUNT.where(among(Domain.id, set(domain_ids)))
        .order_by(Domain.id)
        .with_for_update()
        .execution_options(**_LOCKED)
    )
    return list((await session.scalars(query, {"account_id": account_id})).all())


async def domain_counts(
    session: AsyncSession, account_id: int, contact_ids: Sequence[int], *, default_id: int | None
) -> dict[int, int]:
    """Contact id -> how many of the account's domains use it in some role: its own role rows,
    and for the default contact (``default_id``) also every domain leaving a role unset."""
    if not contact_ids:
        return {}
    query = (
        select(DomainContact.contact_id, func.count(func.distinct(DomainContact.domain_id)))
        .where(DomainContact.account_id == account_id, DomainContact.contact_id.in_(contact_ids))
        .group_by(DomainContact.contact_id)
    )
    counts: dict[int, int] = dict((await session.execute(query)).all())
    if default_id is not None and default_id in contact_ids:
        held = select(func.count()).where(DomainContact.domain_id == Domain.id).scalar_subquery()
        names_it = (
            select(DomainContact.domain_id)
            .where(DomainContact.domain_id == Domain.id, DomainContact.contact_id == default_id)
            .exists()
        )
        either = (
            select(func.count())
            .select_from(Domain)
            .where(Domain.account_id == account_id, or_(held < len(ROLES), names_it))
        )
        counts[default_id] = await session.scalar(either) or 0
    return counts


async def held_registered_to(
    session: AsyncSession, account_id: int, user: UsedBy, *, explicit: bool = True, limit: int
) -> list[str]:
    """Names of the first ``limit`` domains under a dispute hold whose registrant resolves to
    the contact (resolved_roles; only by the default fallback with ``explicit=False``)."""
    resolved = resolved_roles(user.is_default, "registrant", explicit=explicit)
    query = (
        select(Domain.name)
        .where(
            Domain.account_id == account_id,
            Domain.dispute_hold.is_(True),
            Domain.id.in_(select(resolved.c.domain_id)),
        )
        .order_by(Domain.name)
        .limit(limit)
    )
    params = {"account_id": account_id, "contact_id": user.contact_id}
    return list((await session.scalars(query, params)).all())


async def set_registrant(
    session: AsyncSession,
    account_id: int,
    with_row: Sequence[int],
    unset: Sequence[int],
    contact_id: int,
    *,
    at: datetime,
) -> list[DomainSettings]:
    """The registrant role of many domains to one contact: their rows updated (``with_row``),
    rows added where the role was unset; their ``updated_at`` moved. The domains' settings as
    they are then (for their events, with no query of their own)."""
    await session.execute(
        update(DomainContact)
        .where(
            DomainContact.account_id == account_id,
            DomainContact.role == "registrant",
            among(DomainContact.domain_id, with_row),
        )
        .values(contact_id=contact_id)
        .execution_options(synchronize_session=False)
    )
    rows = [
        {"domain_id": i, "role": "registrant", "account_id": account_id, "contact_id": contact_id}
        for i in unset
    ]
    await insert_rows(session, cast(Table, DomainContact.__table__), rows)
    moved = await session.execute(
        update(Domain)
        .where(Domain.account_id == account_id, among(Domain.id, [*with_row, *unset]))
        .values(updated_at=at)
        .returning(*SETTINGS)
        .execution_options(synchronize_session=False)
    )
    return [DomainSettings._make(row) for row in moved]


async def set_transfer_lock(
    session: AsyncSession, account_id: int, domain_ids: Sequence[int], until: datetime
) -> list[Domain]:
    """The transfer lock after a change of registrant, until ``until``, on those of the domains
    whose registrant did not opt out of it; the domains locked, as they are now."""
    statement = (
        update(Domain)
        .where(
            Domain.account_id == account_id,
            among(Domain.id, domain_ids),
            Domain.transfer_lock_opt_out.is_(False),
        )
        .values(transfer_lock_until=until)
        .returning(Domain)
        .execution_options(synchronize_session=False)
    )
    locked = list((await session.scalars(statement)).all())
    for domain in locked:
        # As written; not reloaded, which would unload the roles a caller holds.
        set_committed_value(domain, "transfer_lock_until", until)
    return locked


class DomainSettings(NamedTuple):
    """A domain's settings read as a row, not an ORM object: the events about thousands of
    domains of one registrant carry them (domains.status.settings_payload)."""

    id: int
    name: str
    status: DomainStatus
    autorenew: bool
    privacy: bool
    locked: bool
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    transfer_lock_until: datetime | None


# The columns, for a SELECT or an UPDATE's RETURNING.
SETTINGS = tuple(getattr(Domain, field) for field in DomainSettings._fields)


async def settings_by_ids(
    session: AsyncSession, account_id: int, domain_ids: Sequence[int]
) -> list[DomainSettings]:
    """The domains' settings as they are now (deleted ones left out)."""
    query = select(*SETTINGS).where(Domain.account_id == account_id, among(Domain.id, domain_ids))
    return [DomainSettings._make(row) for row in await session.execute(query)]
