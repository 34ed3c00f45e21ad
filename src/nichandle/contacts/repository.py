"""Every query over contacts, always scoped by account."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Label,
    Select,
    SQLColumnExpression,
    Table,
    Text,
    UnaryExpression,
    and_,
    bindparam,
    column,
    exists,
    func,
    literal_column,
    select,
    table,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import instance_dict, set_committed_value

from nichandle.contacts.models import SQLITE_SEARCH_INDEX, TRIGRAM, Contact, ContactCount
from nichandle.contacts.validation import nfc
from nichandle.db.rows import insert_rows_with_ids
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
# `query` searches first and last name, company, email, handle and city: contact.search_text
# holds them (models.SEARCH_TEXT_SQL).


@dataclass(frozen=True)
class ContactFilter:
    query: str | None = None
    parent_id: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Stored text is NFC (contacts/validation.py), so what is searched for must be too.
        # Here rather than where it is bound, so the page's shape sees the same query.
        if self.query is not None:
            object.__setattr__(self, "query", nfc(self.query))
        normalized = {nfc(key): nfc(value) for key, value in self.metadata.items()}
        object.__setattr__(self, "metadata", normalized)


# What _with_parents loads, as a query option, for code that builds its own query of contacts
# (a JOIN: fine for a few rows, see _with_parents).
_WITH_PARENT = joinedload(Contact.parent).joinedload(Contact.parent)


def _scoped(account_id: int) -> Select[Contact]:
    return select(Contact).where(Contact.account_id == account_id)


# The statements every request runs are built once, with bound parameters: building a statement
# (and its cache key) each time cost more than running it (a list page 1.3 -> 0.8 ms CPU).
_IN_ACCOUNT = select(Contact).where(Contact.account_id == bindparam("account_id"))
_BY_HANDLE = _IN_ACCOUNT.where(Contact.handle == bindparam("handle"))
_BY_ID = _IN_ACCOUNT.where(Contact.id == bindparam("contact_id"))
_BY_IDS = _IN_ACCOUNT.where(Contact.id.in_(bindparam("ids", expanding=True)))
_DEFAULT = _IN_ACCOUNT.where(Contact.is_default)

# How a write holds the contacts it reads (the lock order: docs/decisions.md, "Concurrency"):
# "update" for the contact it changes; "key_share" for a contact it points at (a role, a
# parent), which keeps that contact from being deleted until the write commits.
Lock = Literal["update", "key_share"]


@functools.cache
def _locked(query: Select[Contact], lock: Lock) -> Select[Contact]:
    """A prebuilt statement, locking (built once for each, like the statement itself)."""
    if lock == "update":
        return query.with_for_update().execution_options(populate_existing=True)
    return query.with_for_update(read=True, key_share=True)


async def _with_parents(
    session: AsyncSession, account_id: int, query: Select[Contact]
) -> Sequence[Contact]:
    """The contacts ``query`` finds, each with its parent and the parent's parent loaded:
    enough to show the parent's handle, or embed the parent whole.

    Most contacts have no parent. Joining every row to two more copies of the table (what
    joinedload does) makes each row three contacts wide for the ORM to take apart, a third of
    a list page's cost; instead the parents are fetched by id, one query per level, only when
    there are any.
    """
    return await _load_parents(session, account_id, (await session.scalars(query)).all())


async def _one_with_parents(
    session: AsyncSession,
    account_id: int,
    query: Select[Contact],
    params: dict[str, Any],
    *,
    lock: Lock | None = None,
) -> Contact | None:
    """The contact a prebuilt statement finds, with its parents (see _with_parents); locked, and
    as it is now rather than as this session last saw it, when ``lock`` is given."""
    if lock is not None:
        query = _locked(query, lock)
    found = (await session.scalars(query, {"account_id": account_id, **params})).first()
    if found is None:
        return None
    return (await _load_parents(session, account_id, [found], fresh=lock is not None))[0]


async def _load_parents(
    session: AsyncSession, account_id: int, found: Sequence[Contact], *, fresh: bool = False
) -> Sequence[Contact]:
    level = [c for c in found if fresh or "parent" not in instance_dict(c)]
    for _depth in range(2):
        wanted = {c.parent_id for c in level if c.parent_id is not None}
        parents: dict[int, Contact] = {}
        if wanted:
            rows = await session.scalars(_BY_IDS, {"account_id": account_id, "ids": list(wanted)})
            parents = {parent.id: parent for parent in rows}
        for contact in level:
            parent = parents.get(contact.parent_id) if contact.parent_id is not None else None
            set_committed_value(contact, "parent", parent)
        level = [p for p in parents.values() if "parent" not in instance_dict(p)]
    return found


def _storable(text: str) -> bool:
    """PostgreSQL text cannot hold NUL; a handle with one matches nothing (and must not 500)."""
    return "\x00" not in text


async def by_handle(
    session: AsyncSession, account_id: int, handle: str, *, lock: Lock | None = None
) -> Contact | None:
    if not _storable(handle):
        return None
    return await _one_with_parents(session, account_id, _BY_HANDLE, {"handle": handle}, lock=lock)


async def by_id(
    session: AsyncSession, account_id: int, contact_id: int, *, lock: Lock | None = None
) -> Contact | None:
    return await _one_with_parents(
        session, account_id, _BY_ID, {"contact_id": contact_id}, lock=lock
    )


async def by_handles(
    session: AsyncSession, account_id: int, handles: Iterable[str]
) -> Sequence[Contact]:
    wanted = [handle for handle in handles if _storable(handle)]
    return await _with_parents(
        session, account_id, _scoped(account_id).where(Contact.handle.in_(wanted))
    )


async def by_fingerprint(
    session: AsyncSession, account_id: int, fingerprint: str
) -> Contact | None:
    query = _scoped(account_id).where(Contact.fingerprint == fingerprint).order_by(Contact.id)
    found = await _with_parents(session, account_id, query.limit(1))
    return found[0] if found else None


async def handle_taken(session: AsyncSession, account_id: int, handle: str) -> bool:
    query = select(Contact.id).where(Contact.account_id == account_id, Contact.handle == handle)
    return (await session.scalar(query)) is not None


async def default_contact_id(session: AsyncSession, account_id: int) -> int | None:
    query = select(Contact.id).where(Contact.account_id == account_id, Contact.is_default)
    return await session.scalar(query)


async def default_contact(
    session: AsyncSession, account_id: int, *, lock: Lock | None = None
) -> Contact | None:
    return await _one_with_parents(session, account_id, _DEFAULT, {}, lock=lock)


async def has_others(session: AsyncSession, account_id: int, contact_id: int) -> bool:
    """Whether the account has a contact besides this one: read from the table, not the
    trigger-kept counts, so the last-contact rule never rests on a counter."""
    query = select(exists().where(Contact.account_id == account_id, Contact.id != contact_id))
    return bool(await session.scalar(query))


async def count(session: AsyncSession, account_id: int) -> int:
    """The account's contacts, from the counts the database keeps (ContactCount): exact, and
    the same cost at 10 contacts as at a million."""
    return int(await session.scalar(_ACCOUNT_TOTAL, {"account_id": account_id}) or 0)


_ACCOUNT_TOTAL = select(func.coalesce(func.sum(ContactCount.contacts), 0)).where(
    ContactCount.account_id == bindparam("account_id")
)


async def children(session: AsyncSession, account_id: int, parent_id: int) -> Sequence[Contact]:
    query = _scoped(account_id).where(Contact.parent_id == parent_id).order_by(Contact.id)
    return await _with_parents(session, account_id, query)


async def parent_id_of(session: AsyncSession, account_id: int, contact_id: int) -> int | None:
    query = select(Contact.parent_id).where(
        Contact.account_id == account_id, Contact.id == contact_id
    )
    return await session.scalar(query)


@dataclass(frozen=True)
class _Shape:
    """What a page's statements depend on besides their parameters (_filter_params)."""

    backend: str
    sort: tuple[tuple[str, bool], ...]
    query: bool
    parent: bool
    metadata: int  # how many metadata filters
    # SQLite: the query is long enough for the trigram index (SQLITE_SEARCH_INDEX).
    trigram: bool = False

    @classmethod
    def of(cls, backend: str, where: ContactFilter, sort: Sequence[tuple[str, bool]]) -> _Shape:
        return cls(
            backend,
            tuple(sort),
            bool(where.query),
            where.parent_id is not None,
            len(where.metadata),
            backend == "sqlite" and len(where.query or "") >= TRIGRAM,
        )

    @property
    def whole_account(self) -> bool:
        return not self.query and not self.parent and not self.metadata


def _filter_params(account_id: int, where: ContactFilter, shape: _Shape) -> dict[str, Any]:
    """The values _conditions binds."""
    params: dict[str, Any] = {"account_id": account_id}
    if where.query:
        params["needle"] = _contains_pattern(where.query.lower())
    if shape.trigram:
        params["phrase"] = _fts_phrase(where.query or "")
    if where.parent_id is not None:
        params["parent_id"] = where.parent_id
    for n, (key, value) in enumerate(where.metadata.items()):
        params[f"metadata_key_{n}"] = key
        params[f"metadata_value_{n}"] = value
    return params


def _matches_nothing(where: ContactFilter) -> bool:
    # No field holds a newline (search_text joins them with one): such a query matches nothing,
    # rather than text across two fields.
    return "\n" in (where.query or "")


def _conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Contact.account_id == bindparam("account_id")]
    if shape.query:
        conditions.append(_search(shape))
    if shape.parent:
        conditions.append(Contact.parent_id == bindparam("parent_id"))
    for n in range(shape.metadata):
        conditions.append(_metadata_equals(shape.backend, n))
    return conditions


_LIKE_ESCAPE = "/"


def _contains_pattern(needle: str) -> str:
    """A LIKE pattern for "contains ``needle``", its wildcards taken literally."""
    for special in (_LIKE_ESCAPE, "%", "_"):
        needle = needle.replace(special, _LIKE_ESCAPE + special)
    return f"%{needle}%"


def _fts_phrase(needle: str) -> str:
    """An FTS5 phrase that matches ``needle`` as written: quoted, its quotes doubled."""
    return '"' + needle.replace('"', '""') + '"'


_SQLITE_SEARCH_INDEX = table(SQLITE_SEARCH_INDEX, column("rowid", Integer))


def _search(shape: _Shape) -> ColumnElement[bool]:
    """Contains the (lower-cased) query in one of the searchable fields: one LIKE over
    search_text, which the trigram index serves on PostgreSQL."""
    matches = Contact.search_text.like(bindparam("needle", type_=Text), escape=_LIKE_ESCAPE)
    if shape.trigram:
        # The trigram index finds the candidates (a superset: it folds case more widely than
        # lower() does); the LIKE keeps the search's meaning exactly.
        candidates = select(_SQLITE_SEARCH_INDEX.c.rowid).where(
            literal_column(SQLITE_SEARCH_INDEX).match(bindparam("phrase", type_=Text))
        )
        return and_(Contact.id.in_(candidates), matches)
    if shape.backend == "sqlite":
        # A needle shorter than a trigram: SQLite (3.40) would read every row rather than scan
        # the (account_id, search_text) index, which holds all the LIKE needs; a range on that
        # column makes it take the index (19 ms instead of 106 ms at 100k contacts).
        return and_(matches, Contact.search_text >= "")
    return matches


def _metadata_equals(backend: str, n: int) -> ColumnElement[bool]:
    key = bindparam(f"metadata_key_{n}", type_=Text)
    value = bindparam(f"metadata_value_{n}", type_=Text)
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
    if _matches_nothing(where):
        return [], 0
    shape = _Shape.of(session.get_bind().dialect.name, where, sort)
    params = _filter_params(account_id, where, shape)
    page_params = {**params, "offset": request.offset, "limit": request.per_page}
    rows = (await session.execute(_page_statement(shape), page_params)).all()
    # The total comes with the rows, if there were any.
    if rows:
        counted = int(rows[0][1])
    elif shape.whole_account:
        counted = await count(session, account_id)
    else:
        counted = await _count_matches(session, shape, params)
    contacts = [contact for contact, _total in rows]
    return await _load_parents(session, account_id, contacts), counted


def _order_by(
    sort: Sequence[tuple[str, bool]],
    column: Callable[[int, str], SQLColumnExpression[Any]],
    id_column: SQLColumnExpression[Any],
) -> list[UnaryExpression[Any]]:
    """ORDER BY the ``n``-th sort field's ``column(n, name)``, then by id unless the sort has it:
    a stable order, so pages never overlap."""
    order = [
        column(n, name).desc() if desc else column(n, name).asc()
        for n, (name, desc) in enumerate(sort)
    ]
    if not any(name == "id" for name, _ in sort):
        order.append(id_column.asc())
    return order


# Sort orders come from requests: a bounded cache, however many combinations are asked for.
@functools.lru_cache(maxsize=256)
def _page_statement(shape: _Shape) -> Select[Any]:
    order = _order_by(shape.sort, lambda _n, name: SORT_COLUMNS[name], Contact.id)
    # The page's ids first, from the indexes alone, then only those rows with their parents:
    # a deep page costs its depth in index entries, not in rows read, joined and thrown away.
    # The total comes with them: an unfiltered page's from the counts kept (ContactCount).
    if shape.whole_account:
        total = _ACCOUNT_TOTAL.scalar_subquery()
        ids = select(Contact.id, total.label("total")).where(*_conditions(shape)).order_by(*order)
    elif shape.backend == "sqlite":
        # A window count of the matches (search at 100k contacts 37.7 -> 20.6 ms); sorting by an
        # expression keeps SQLite on the search index (then a sort of the matches) instead of
        # walking the whole account in id order to find a rare match.
        ids_order = [(Contact.id + 0).asc()] if shape.query and not shape.sort else order
        ids = select(Contact.id, func.count().over().label("total"))
        ids = ids.where(*_conditions(shape)).order_by(*ids_order)
    else:
        ids = _matches_page(shape)
    paged = ids.offset(bindparam("offset")).limit(bindparam("limit")).subquery()
    return (
        select(Contact, paged.c.total)
        .join(paged, paged.c.id == Contact.id)
        .where(Contact.account_id == bindparam("account_id"))
        .order_by(*order)
    )


def _matches_page(shape: _Shape) -> Select[Any]:
    """PostgreSQL, filtered: the matches found once (one scan of the trigram index, not one for
    the page and one for the count; search at 1M contacts 5.4 -> 2.0 ms), with their sort keys,
    then counted and sorted. A window count instead sorted every match before the LIMIT (a broad
    search at 100k 17 -> 55 ms); and a LIMIT over the rows themselves let a generic plan walk
    the account in id order for a rare match (600 ms at 1M)."""
    keys: list[Label[Any]] = [
        SORT_COLUMNS[name].label(f"sort_{n}") for n, (name, _desc) in enumerate(shape.sort)
    ]
    matches = select(Contact.id, *keys).where(*_conditions(shape)).cte("matches")
    order = _order_by(shape.sort, lambda n, _name: matches.c[f"sort_{n}"], matches.c.id)
    total = select(func.count()).select_from(matches).scalar_subquery()
    return select(matches.c.id, total.label("total")).order_by(*order)


@functools.lru_cache(maxsize=64)
def _count_statement(shape: _Shape) -> Select[Any]:
    return select(func.count()).select_from(Contact).where(*_conditions(shape))


async def _count_matches(session: AsyncSession, shape: _Shape, params: dict[str, Any]) -> int:
    found = await session.scalar(_count_statement(shape), params)
    return found or 0


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
    """Inserts contacts (COPY on PostgreSQL, db.rows); handle -> id. ``rows`` are keyed by
    column name (``metadata``, not the attribute's ``metadata_``) and all have the same keys."""
    # Plain rows, not the ORM: its per-row bookkeeping doubled the cost of a batch.
    return await insert_rows_with_ids(session, cast(Table, Contact.__table__), rows, key="handle")


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
