"""Migrations: upgrade -> downgrade -> upgrade on a fresh database, and no drift from the models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from nichandle.contacts.models import SQLITE_SEARCH_INDEX
from nichandle.db import migrate
from nichandle.db.engine import Database, create_database
from nichandle.db.models import Base
from nichandle.settings import Settings
from tests.fresh_database import BACKENDS, fresh_database

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

APP_TABLES = frozenset(Base.metadata.tables)
CORE_TABLES = frozenset(
    {"account", "app_user", "api_token", "membership", "contact", "contact_version", "outbox_event"}
)


@pytest.fixture(params=BACKENDS)
async def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestDatabase]:
    async with fresh_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
async def database(fresh_db: TestDatabase) -> AsyncIterator[Database]:
    db = create_database(Settings(database_url=fresh_db.url))
    yield db
    await db.dispose()


async def table_names(db: Database) -> set[str]:
    def read(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    async with db.writer.connect() as connection:
        return await connection.run_sync(read)


async def schema_drift(db: Database) -> list[Any]:
    """What alembic autogenerate would put into a new migration: empty when models == schema."""

    def compare(connection: Connection) -> list[Any]:
        dialect = connection.dialect.name

        def on_this_database(obj: Any, name: str | None, type_: str, *_args: Any) -> bool:
            # Objects the models create only on another database (`.ddl_if(dialect=...)`).
            only_on = getattr(getattr(obj, "_ddl_if", None), "dialect", None)
            return only_on in (None, dialect) and not is_sqlite_search_index(type_, name)

        opts = {"compare_type": True, "include_object": on_this_database}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, Base.metadata))

    async with db.writer.connect() as connection:
        return await connection.run_sync(compare)


def is_sqlite_search_index(type_: str, name: str | None) -> bool:
    """SQLite's FTS5 table (migration 0005) and its shadow tables: made by the migration, never
    mapped by the models."""
    return type_ == "table" and (name or "").startswith(SQLITE_SEARCH_INDEX)


def test_models_include_the_core_tables() -> None:
    assert APP_TABLES >= CORE_TABLES


async def test_upgrade_downgrade_upgrade_round_trip(database: Database) -> None:
    assert await table_names(database) == set()
    assert await migrate.current_revision(database) is None

    await migrate.upgrade(database)
    assert await table_names(database) >= APP_TABLES
    assert await migrate.current_revision(database) == migrate.head_revision()

    await migrate.downgrade(database, "base")
    assert not APP_TABLES & await table_names(database)
    assert await migrate.current_revision(database) is None

    await migrate.upgrade(database)
    assert await table_names(database) >= APP_TABLES
    assert await migrate.current_revision(database) == migrate.head_revision()
    assert await schema_drift(database) == []


async def test_upgrade_is_idempotent_at_head(database: Database) -> None:
    await migrate.upgrade(database)
    await migrate.upgrade(database)
    assert await migrate.current_revision(database) == migrate.head_revision()


async def test_migrated_schema_has_no_drift_from_models(database: Database) -> None:
    await migrate.upgrade(database)
    assert await schema_drift(database) == []


async def test_one_default_contact_index_survives_the_round_trip(database: Database) -> None:
    """The partial unique index (one default per account) is rebuilt by the second upgrade."""
    await migrate.upgrade(database)
    await migrate.downgrade(database, "base")
    await migrate.upgrade(database)

    def indexes(connection: Connection) -> dict[str, bool]:
        return {
            index["name"]: bool(index["unique"])
            for index in inspect(connection).get_indexes("contact")
            if index["name"]
        }

    async with database.writer.connect() as connection:
        found = await connection.run_sync(indexes)
    assert found.get("uq_contact_default") is True

    account = Base.metadata.tables["account"]
    contact = Base.metadata.tables["contact"]
    now = datetime.now(UTC)

    def contact_row(handle: str, *, is_default: bool) -> dict[str, Any]:
        return {
            "account_id": 1,
            "handle": handle,
            "first_name": "Jan",
            "last_name": "Jansen",
            "address_street": "Damrak",
            "address_postal_code": "1012 LG",
            "address_city": "Amsterdam",
            "address_country_code": "NL",
            "email": "jan@example.com",
            "email_normalized": "jan@example.com",
            "phone": "+31201234567",
            "is_default": is_default,
            "extension_data": {},
            "metadata": {},
            "fingerprint": handle,
            "created_at": now,
            "updated_at": now,
        }

    async with database.writer.begin() as connection:
        await connection.execute(account.insert().values(id=1, name="A", slug="a", created_at=now))
        await connection.execute(
            contact.insert(),
            [
                contact_row("h1", is_default=True),
                contact_row("h2", is_default=False),
                contact_row("h3", is_default=False),
            ],
        )
    with pytest.raises(IntegrityError):
        async with database.writer.begin() as connection:
            await connection.execute(contact.insert().values(contact_row("h4", is_default=True)))
