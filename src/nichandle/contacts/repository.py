"""Every query over contacts, always scoped by account."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    UnaryExpression,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from nichandle.contacts.models import Contact
from nichandle.paging import PageRequest

SORT_COLUMNS = {
    "handle": Contact.handle,
    "is_default": Contact.is_default,
    "id": Contact.id,
    "created_at": Contact.created_at,
    "email": Contact.email_normalized,
    "last_name": Contact.last_name,
    # Unset labels are NULL; sorted as "" so both databases put them first ascending.
    "label": func.coalesce(Contact.label, ""),
}
SEARCH_COLUMNS = (
    Contact.first_name,
    Contact.last_name,
    Contact.company_name,
    Contact.email_normalized,
    Contact.handle,
    Contact.address_city,
)


@dataclass(frozen=True)
class ContactFilter:
    query: str | None = None
    parent_id: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)


# The parent and its parent: enough to show the parent's handle, or embed the parent whole.
_WITH_PARENT = joinedload(Contact.parent).joinedload(Contact.parent)


def _scoped(account_id: int) -> Select[Contact]:
    return select(Contact).where(Contact.account_id == account_id).options(_WITH_PARENT)


def _storable(text: str) -> bool:
    """PostgreSQL text cannot hold NUL; a handle with one matches nothing (and must not 500)."""
    return "\x00" not in text


async def by_handle(session: AsyncSession, account_id: int, handle: str) -> Contact | None:
    if not _storable(handle):
        return None
    contact: Contact | None = await session.scalar(
        _scoped(account_id).where(Contact.handle == handle)
    )
    return contact


async def by_id(session: AsyncSession, account_id: int, contact_id: int) -> Contact | None:
    contact: Contact | None = await session.scalar(
        _scoped(account_id).where(Contact.id == contact_id)
    )
    return contact


async def by_handles(
    session: AsyncSession, account_id: int, handles: Iterable[str]
) -> Sequence[Contact]:
    wanted = [handle for handle in handles if _storable(handle)]
    return (await session.scalars(_scoped(account_id).where(Contact.handle.in_(wanted)))).all()


async def by_fingerprint(
    session: AsyncSession, account_id: int, fingerprint: str
) -> Contact | None:
    query = _scoped(account_id).where(Contact.fingerprint == fingerprint).order_by(Contact.id)
    contact: Contact | None = await session.scalar(query.limit(1))
    return contact


async def handle_taken(session: AsyncSession, account_id: int, handle: str) -> bool:
    query = select(Contact.id).where(Contact.account_id == account_id, Contact.handle == handle)
    return (await session.scalar(query)) is not None


async def default_contact_id(session: AsyncSession, account_id: int) -> int | None:
    query = select(Contact.id).where(Contact.account_id == account_id, Contact.is_default)
    return await session.scalar(query)


async def clear_default(session: AsyncSession, account_id: int) -> None:
    await session.execute(
        update(Contact)
        .where(Contact.account_id == account_id, Contact.is_default)
        .values(is_default=False)
        .execution_options(synchronize_session="fetch")
    )


async def count(session: AsyncSession, account_id: int) -> int:
    query = select(func.count()).select_from(Contact).where(Contact.account_id == account_id)
    return (await session.scalar(query)) or 0


async def children(session: AsyncSession, account_id: int, parent_id: int) -> Sequence[Contact]:
    query = _scoped(account_id).where(Contact.parent_id == parent_id).order_by(Contact.id)
    return (await session.scalars(query)).all()


async def parent_id_of(session: AsyncSession, account_id: int, contact_id: int) -> int | None:
    query = select(Contact.parent_id).where(
        Contact.account_id == account_id, Contact.id == contact_id
    )
    return await session.scalar(query)


def _conditions(account_id: int, where: ContactFilter, backend: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Contact.account_id == account_id]
    if where.query:
        needle = where.query.lower()
        conditions.append(
            or_(*(func.lower(col).contains(needle, autoescape=True) for col in SEARCH_COLUMNS))
        )
    if where.parent_id is not None:
        conditions.append(Contact.parent_id == where.parent_id)
    for key, value in where.metadata.items():
        conditions.append(_metadata_equals(backend, key, value))
    return conditions


def _metadata_equals(backend: str, key: str, value: str) -> ColumnElement[bool]:
    if backend == "sqlite":
        # json_each compares the decoded key: any characters work, unlike a JSON path literal.
        entries = func.json_each(Contact.metadata_).table_valued("key", "value")
        return exists(
            select(1).select_from(entries).where(entries.c.key == key, entries.c.value == value)
        )
    matches: ColumnElement[bool] = Contact.metadata_[key].as_string() == value
    return matches


async def page(
    session: AsyncSession,
    account_id: int,
    where: ContactFilter,
    sort: Sequence[tuple[str, bool]],
    request: PageRequest,
) -> tuple[Sequence[Contact], int]:
    conditions = _conditions(account_id, where, session.get_bind().dialect.name)
    total = await session.scalar(select(func.count()).select_from(Contact).where(*conditions))
    order: list[UnaryExpression[Any]] = [
        SORT_COLUMNS[name].desc() if desc else SORT_COLUMNS[name].asc() for name, desc in sort
    ]
    if not any(name == "id" for name, _ in sort):
        order.append(Contact.id.asc())  # a stable order, so pages never overlap
    query = (
        select(Contact)
        .where(*conditions)
        .options(_WITH_PARENT)
        .order_by(*order)
        .offset(request.offset)
        .limit(request.per_page)
    )
    return (await session.scalars(query)).all(), total or 0


# --- bulk import and export ---------------------------------------------------------------


async def ids_by_fingerprints(
    session: AsyncSession, account_id: int, fingerprints: Iterable[str]
) -> dict[str, tuple[int, str]]:
    """fingerprint -> (id, handle) of the account's oldest contact with it, in one query."""
    query = (
        select(Contact.fingerprint, Contact.id, Contact.handle)
        .where(Contact.account_id == account_id, Contact.fingerprint.in_(set(fingerprints)))
        .order_by(Contact.id.desc())
    )
    # Newest first, so the oldest contact of each fingerprint is the one left in the dict.
    return {digest: (id_, handle) for digest, id_, handle in await session.execute(query)}


async def ids_by_handles(
    session: AsyncSession, account_id: int, handles: Iterable[str]
) -> dict[str, int]:
    """handle -> id of the account's contacts among ``handles``, in one query."""
    wanted = {handle for handle in handles if _storable(handle)}
    query = select(Contact.handle, Contact.id).where(
        Contact.account_id == account_id, Contact.handle.in_(wanted)
    )
    return dict((await session.execute(query)).all())


async def insert_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Inserts contacts in multi-row INSERTs; handle -> id. ``rows`` are keyed by column name
    (``metadata``, not the attribute's ``metadata_``) and all have the same keys."""
    if not rows:
        return {}
    # Core, not the ORM: the rows are plain values, and the ORM's per-row bookkeeping doubled
    # the cost of a batch.
    table = cast(Table, Contact.__table__)
    result = await session.execute(insert(table).returning(table.c.handle, table.c.id), rows)
    return dict(result.all())


async def refresh_statistics(session: AsyncSession) -> None:
    """Updates the planner's statistics of the contact table (both databases know ANALYZE).

    A table filled by an import looks empty to the planner until autovacuum gets to it, and
    PostgreSQL then picks any index starting with account_id for the import's lookups, scanning
    the whole account per batch. Without ownership of the table this is a warning, not an error.
    """
    await session.execute(text("ANALYZE contact"))


async def set_parents(
    session: AsyncSession, account_id: int, links: Sequence[tuple[int, int]]
) -> None:
    """Sets parent_id for many (contact id, parent id) pairs in one executemany."""
    if not links:
        return
    table = cast(Table, Contact.__table__)  # Core, so the WHERE below is taken as written
    statement = (
        update(table)
        .where(table.c.account_id == account_id, table.c.id == bindparam("contact_id"))
        .values(parent_id=bindparam("new_parent_id"))
    )
    await session.execute(
        statement, [{"contact_id": child, "new_parent_id": parent} for child, parent in links]
    )


async def stream_all(
    session: AsyncSession, account_id: int, *, chunk: int = 1000
) -> AsyncIterator[Contact]:
    """Every contact of the account (its parent's handle loaded), the default first, then by id;
    fetched ``chunk`` rows at a time, so memory stays flat however many there are."""
    query = (
        select(Contact)
        .where(Contact.account_id == account_id)
        .options(joinedload(Contact.parent).load_only(Contact.handle))
        .order_by(Contact.is_default.desc(), Contact.id)
        .execution_options(yield_per=chunk)
    )
    async for contact in await session.stream_scalars(query):
        yield contact
