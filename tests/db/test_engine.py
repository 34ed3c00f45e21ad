"""Engines and units of work: reads without a transaction where one holds no snapshot, and pooled
connections checked after they sat idle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from nichandle.db import migrate
from nichandle.db.engine import Database, create_database
from nichandle.db.session import unit_of_work
from nichandle.settings import Settings
from tests.fresh_database import POSTGRES_ADMIN_URL, fresh_database

if TYPE_CHECKING:
    from tests.fresh_database import TestDatabase


@pytest.fixture
async def postgres_db(tmp_path: Path) -> AsyncIterator[TestDatabase]:
    async with fresh_database("postgresql", tmp_path) as database:
        yield database


async def _transaction_started_at(db: Database, *, per_statement: bool) -> list[str]:
    """now() (the transaction's start on PostgreSQL) in two statements of one read."""
    seen = []
    async with unit_of_work(db, write=False, per_statement=per_statement) as session:
        for _ in range(2):
            seen.append(str(await session.scalar(text("SELECT now()::text"))))
            await asyncio.sleep(0.01)
    return seen


@pytest.mark.postgresql
async def test_postgresql_request_reads_run_without_a_transaction(
    postgres_db: TestDatabase,
) -> None:
    db = create_database(Settings(database_url=postgres_db.url))
    try:
        first, second = await _transaction_started_at(db, per_statement=True)
        assert first != second  # each statement on its own: no BEGIN was sent
        first, second = await _transaction_started_at(db, per_statement=False)
        assert first == second  # a transactional read (exports) keeps its transaction
    finally:
        await db.dispose()


async def _count_accounts_around_a_write(db: Database) -> tuple[int, int]:
    """Accounts counted twice in one per-statement read, with an account added in between."""
    async with unit_of_work(db, write=False, per_statement=True) as session:
        before = int(await session.scalar(text("SELECT count(*) FROM account")) or 0)
        async with unit_of_work(db) as writer:
            await writer.execute(
                text(
                    "INSERT INTO account (name, slug, default_nameservers, created_at) "
                    "VALUES ('Between', 'between', '[]', CURRENT_TIMESTAMP)"
                )
            )
        after = int(await session.scalar(text("SELECT count(*) FROM account")) or 0)
    return before, after


async def test_sqlite_request_reads_keep_one_snapshot(tmp_path: Path) -> None:
    async with fresh_database("sqlite", tmp_path) as fresh:
        db = create_database(Settings(database_url=fresh.url))
        try:
            await migrate.upgrade(db)
            before, after = await _count_accounts_around_a_write(db)
            # SQLite's transaction costs no round trip and holds one snapshot: kept.
            assert (before, after) == (0, 0)
        finally:
            await db.dispose()


@pytest.mark.postgresql
async def test_a_connection_cut_while_idle_is_replaced_before_use(
    postgres_db: TestDatabase,
) -> None:
    async with _one_connection(postgres_db.url, ping_after_idle_seconds=0.05) as db:
        first = await _backend_pid(db)
        await _terminate(first)
        await asyncio.sleep(0.1)
        second = await _backend_pid(db)  # pinged, found dead, reconnected: no error
        assert second != first


@pytest.mark.postgresql
async def test_a_busy_connection_is_not_pinged(postgres_db: TestDatabase) -> None:
    """Within the idle threshold the pooled connection is used as it is; one cut meanwhile
    fails that one use, and the pool reconnects for the next."""
    async with _one_connection(postgres_db.url, ping_after_idle_seconds=3600) as db:
        first = await _backend_pid(db)
        await _terminate(first)
        with pytest.raises(DBAPIError):
            await _backend_pid(db)
        assert await _backend_pid(db) != first


@asynccontextmanager
async def _one_connection(url: str, *, ping_after_idle_seconds: float) -> AsyncIterator[Database]:
    """A database whose pool holds a single connection, so every use reuses it."""
    settings = Settings(
        database_url=url,
        db_pool_size=1,
        db_max_overflow=0,
        db_ping_after_idle_seconds=ping_after_idle_seconds,
    )
    db = create_database(settings)
    try:
        yield db
    finally:
        await db.dispose()


async def _backend_pid(db: Database) -> int:
    async with unit_of_work(db, write=False, per_statement=True) as session:
        return int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)


async def _terminate(pid: int) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        for _ in range(100):  # until the server has let the backend go
            if not await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid
            ):
                return
            await asyncio.sleep(0.01)
    finally:
        await admin.close()
