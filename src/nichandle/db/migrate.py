"""Alembic, driven from code over the application's own async engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from nichandle.db.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _run(connection: Connection, /, action: str, revision: str) -> None:
    getattr(command, action)(alembic_config(connection), revision)


def _sqlite_foreign_keys(connection: Connection, /, enabled: bool) -> None:
    # On the DBAPI connection: through SQLAlchemy the statement would begin a transaction, in
    # which SQLite ignores this pragma.
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
    cursor.close()


def _sqlite_check_foreign_keys(connection: Connection, /) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration left rows with dangling foreign keys: {broken[:10]}")


@asynccontextmanager
async def _migrating(db: Database) -> AsyncIterator[AsyncConnection]:
    """The writer's connection in one transaction. On SQLite with foreign keys off, checked
    before the commit instead: a migration that recreates a table (SQLite cannot alter most
    things in place) drops the old one, and with foreign keys on that DROP deletes the rows of
    every referencing table (CASCADE) or fails (RESTRICT). SQLite's documented procedure."""
    async with db.writer.connect() as connection:
        if db.is_sqlite:
            await connection.run_sync(_sqlite_foreign_keys, False)
        try:
            async with connection.begin():
                yield connection
                if db.is_sqlite:
                    await connection.run_sync(_sqlite_check_foreign_keys)
        finally:
            if db.is_sqlite:
                await connection.run_sync(_sqlite_foreign_keys, True)


async def upgrade(db: Database, revision: str = "head") -> None:
    async with _migrating(db) as connection:
        await connection.run_sync(_run, "upgrade", revision)


async def downgrade(db: Database, revision: str) -> None:
    async with _migrating(db) as connection:
        await connection.run_sync(_run, "downgrade", revision)


async def current_revision(db: Database) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.writer.connect() as connection:
        return await connection.run_sync(read)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
