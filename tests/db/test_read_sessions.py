"""A unit of work opened to read refuses to write, loudly, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from nichandle.accounts.models import Account
from nichandle.accounts.service import create_account
from nichandle.db.engine import Database
from nichandle.db.session import ReadOnlySession, unit_of_work


async def test_a_read_session_refuses_orm_writes(db: Database) -> None:
    with pytest.raises(ReadOnlySession):
        async with unit_of_work(db, write=False, per_statement=True) as session:
            await create_account(session, "Never written")
    async with unit_of_work(db, write=False) as session:
        assert (
            await session.scalar(Account.__table__.select().where(Account.name == "Never written"))
            is None
        )


async def test_a_read_session_refuses_statements_that_write(db: Database) -> None:
    async with unit_of_work(db) as session:
        account = await create_account(session, "Kept as it is")
    with pytest.raises(ReadOnlySession):
        async with unit_of_work(db, write=False, per_statement=True) as session:
            await session.execute(
                update(Account).where(Account.id == account.id).values(name="Changed")
            )
    async with unit_of_work(db, write=False) as session:
        assert (await session.get(Account, account.id)).name == "Kept as it is"  # type: ignore[union-attr]
