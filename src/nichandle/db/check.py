"""`nichandle db check`: the numbers the database keeps by trigger, recomputed from the rows.

contact_count (nichandle.contacts.models.ContactCount) is kept by triggers in the transaction of
every insert and delete of a contact, whoever writes. Nothing should make it drift; this is how
an operator knows it has not (after a restore of part of the data, a trigger dropped by hand, a
bug) and how it is repaired.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, literal, select, text, union_all
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.contacts.models import COUNT_SHARDS, Contact, ContactCount


@dataclass(frozen=True)
class CountDrift:
    """One contact_count row that differs from the contacts it counts."""

    account_id: int
    shard: int
    stored: int
    actual: int


def _drift_query(account_id: int | None) -> Select[Any]:
    stored = select(
        ContactCount.account_id,
        ContactCount.shard,
        ContactCount.contacts.label("stored"),
        literal(0).label("actual"),
    )
    # One row per contact, summed below with the stored counts.
    actual = select(
        Contact.account_id,
        (Contact.id % COUNT_SHARDS).label("shard"),
        literal(0).label("stored"),
        literal(1).label("actual"),
    )
    if account_id is not None:
        stored = stored.where(ContactCount.account_id == account_id)
        actual = actual.where(Contact.account_id == account_id)
    # One statement, so one snapshot on PostgreSQL too: the counts and the rows agree in it as
    # they do in every committed state (the triggers write in the transaction of the change).
    both = union_all(stored, actual).subquery()
    stored_sum = func.sum(both.c.stored)
    actual_sum = func.sum(both.c.actual)
    return (
        select(both.c.account_id, both.c.shard, stored_sum, actual_sum)
        .group_by(both.c.account_id, both.c.shard)
        .having(stored_sum != actual_sum)
        .order_by(both.c.account_id, both.c.shard)
    )


async def contact_count_drift(
    session: AsyncSession, *, account_id: int | None = None
) -> list[CountDrift]:
    """Every shard row whose count differs from the contacts in it (a missing row counts 0)."""
    rows = await session.execute(_drift_query(account_id))
    return [
        CountDrift(int(account), int(shard), int(stored), int(actual))
        for account, shard, stored, actual in rows
    ]


async def repair_contact_counts(
    session: AsyncSession, *, account_id: int | None = None
) -> list[CountDrift]:
    """Sets every drifted shard row to the contacts it counts; returns what it repaired."""
    if session.get_bind().dialect.name == "postgresql":
        # No contact is inserted or deleted until this transaction ends (SHARE waits for the
        # writers in progress and blocks new ones; reads go on), so no trigger adds to a row
        # between counting it and writing it. SQLite's writer holds the only write lock anyway.
        await session.execute(text("LOCK TABLE contact IN SHARE MODE"))
        insert = postgresql_insert
    else:
        insert = sqlite_insert  # type: ignore[assignment]
    drift = await contact_count_drift(session, account_id=account_id)
    if drift:
        statement = insert(ContactCount).values(
            [
                {"account_id": row.account_id, "shard": row.shard, "contacts": row.actual}
                for row in drift
            ]
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[ContactCount.account_id, ContactCount.shard],
                set_={"contacts": statement.excluded.contacts},
            )
        )
    return drift
