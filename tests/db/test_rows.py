"""Plain rows in bulk (db.rows): COPY on PostgreSQL and a multi-row INSERT on SQLite store the
same values, give the new ids by a key column, and fail whole, as SQLAlchemy's own errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError

from nichandle.db.engine import Database
from nichandle.db.rows import insert_rows, insert_rows_with_ids
from nichandle.db.session import unit_of_work
from nichandle.events.models import OutboxEvent
from nichandle.history.models import ContactVersion
from tests.conftest import make_team

OUTBOX = cast(Table, OutboxEvent.__table__)
VERSIONS = cast(Table, ContactVersion.__table__)


def event(account_id: int, n: int, at: datetime) -> dict[str, Any]:
    payload = {"contact": {"handle": f"h{n}", "first_name": "Zoë", "note": 'a "quoted"\\ value'}}
    return {
        "uuid": str(uuid.uuid4()),
        "account_id": account_id,
        "type": f"test.{n}",
        "resource_type": "contact",
        "resource_id": f"h{n}",
        "payload": payload,
        "actor_token_id": None,
        "actor_dialect": "system",
        "occurred_at": at,
    }


async def test_rows_store_what_the_orm_reads_back(db: Database) -> None:
    team = await make_team(db)
    # Not in UTC: stored as the same instant and read back in UTC, as for an ORM write.
    at = datetime(2026, 12, 1, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    rows = [event(team.id, n, at) for n in range(3)]
    async with unit_of_work(db) as session:
        await insert_rows(session, OUTBOX, rows)
    async with unit_of_work(db, write=False) as session:
        stored = (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.account_id == team.id, OutboxEvent.type.like("test.%"))
                .order_by(OutboxEvent.id)
            )
        ).all()
    assert [(e.type, e.payload) for e in stored] == [(r["type"], r["payload"]) for r in rows]
    assert all(e.occurred_at == at and e.occurred_at.tzinfo == UTC for e in stored)


async def test_ids_come_back_by_the_key_column(db: Database) -> None:
    team = await make_team(db)
    at = datetime.now(UTC)
    rows = [event(team.id, n, at) for n in range(50)]
    async with unit_of_work(db) as session:
        ids = await insert_rows_with_ids(session, OUTBOX, rows, key="type")
    async with unit_of_work(db, write=False) as session:
        query = select(OutboxEvent.type, OutboxEvent.id).where(OutboxEvent.account_id == team.id)
        stored = dict((await session.execute(query)).all())
    assert ids == stored
    assert set(ids) == {row["type"] for row in rows}


async def test_a_bad_row_fails_the_whole_write_as_an_integrity_error(db: Database) -> None:
    team = await make_team(db)
    at = datetime.now(UTC)
    good = {
        "account_id": team.id,
        "contact_id": 1,
        "handle": "h1",
        "action": "create",
        "actor_token_id": None,
        "dialect": "test",
        "created_at": at,
        "before": None,
        "after": {"handle": "h1"},
    }
    bad = {**good, "handle": None}  # NOT NULL
    with pytest.raises(IntegrityError):
        async with unit_of_work(db) as session:
            await insert_rows(session, VERSIONS, [good, bad])
    async with unit_of_work(db, write=False) as session:
        found = await session.scalar(
            select(func.count()).select_from(VERSIONS).where(VERSIONS.c.account_id == team.id)
        )
    assert found == 0


async def test_no_rows_write_nothing(db: Database) -> None:
    async with unit_of_work(db) as session:
        await insert_rows(session, OUTBOX, [])
        assert await insert_rows_with_ids(session, OUTBOX, [], key="type") == {}
