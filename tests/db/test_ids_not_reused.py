"""Ids are never handed out twice, on either database: a deleted row's id stays deleted, so a
retried DELETE is a 404 and history and outbox rows name one thing each (migration 0006)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from nichandle.app import create_app
from nichandle.contacts.service import create_contact
from nichandle.db import migrate
from nichandle.db.check import contact_count_drift
from nichandle.db.engine import Database
from nichandle.db.models import Base
from nichandle.db.session import unit_of_work
from nichandle.settings import Settings
from tests.conftest import Team, make_team
from tests.contacts.test_search_index import person, search, searched_texts, write_every_way
from tests.dialects.dnsimple.helpers import contact_body, contact_url, contacts_url
from tests.fresh_database import BACKENDS, fresh_database

if TYPE_CHECKING:
    from fastapi import FastAPI

# Every table with an integer id of its own.
ID_TABLES = sorted(
    name
    for name, table in Base.metadata.tables.items()
    if [column.name for column in table.primary_key] == ["id"]
)


async def dnsimple_create(client: httpx.AsyncClient, team: Team, email: str) -> int:
    response = await client.post(
        contacts_url(team), json=contact_body(email=email), headers=team.headers
    )
    assert response.status_code == 201, response.text
    contact_id: int = response.json()["data"]["id"]
    return contact_id


async def test_a_retried_dnsimple_delete_never_deletes_a_newer_contact(
    client: httpx.AsyncClient, team: Team
) -> None:
    await dnsimple_create(client, team, "first@example.com")  # the default: never deletable
    gone = await dnsimple_create(client, team, "gone@example.com")
    deleted = await client.delete(contact_url(team, gone), headers=team.headers)
    assert deleted.status_code == 204

    newer = await dnsimple_create(client, team, "newer@example.com")
    assert newer > gone

    # The client did not see the first 204 and sends the DELETE again.
    retried = await client.delete(contact_url(team, gone), headers=team.headers)
    assert retried.status_code == 404
    still_there = await client.get(contact_url(team, newer), headers=team.headers)
    assert still_there.status_code == 200


async def domain_id(client: httpx.AsyncClient, team: Team, name: str) -> int:
    response = await client.get(f"/v2/{team.id}/domains/{name}", headers=team.headers)
    assert response.status_code == 200, response.text
    found: int = response.json()["data"]["id"]
    return found


async def test_a_new_domain_never_gets_the_id_of_a_deleted_one(
    client: httpx.AsyncClient, team: Team
) -> None:
    await dnsimple_create(client, team, "owner@example.com")
    ids = []
    for name in ("kept.test", "gone.test", "new.test"):
        response = await client.post("/api/v1/domains", json={"name": name}, headers=team.headers)
        assert response.status_code == 201, response.text
        ids.append(await domain_id(client, team, name))
        if name == "gone.test":
            deleted = await client.delete(f"/api/v1/domains/{name}", headers=team.headers)
            assert deleted.status_code == 204
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


async def test_a_new_certificate_never_gets_the_id_of_a_deleted_one(
    client: httpx.AsyncClient, team: Team
) -> None:
    await dnsimple_create(client, team, "owner@example.com")
    ids = []
    for common_name in ("kept.test", "gone.test", "new.test"):
        response = await client.post(
            "/api/v1/certificates", json={"common_name": common_name}, headers=team.headers
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["data"]["id"])
        if common_name == "gone.test":
            deleted = await client.delete(f"/api/v1/certificates/{ids[-1]}", headers=team.headers)
            assert deleted.status_code == 204
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


async def test_every_id_table_is_autoincrement_on_sqlite(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("PostgreSQL's sequences never reuse an id")
    async with db.writer.connect() as connection:
        rows = await connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        )
        created = dict(rows.all())
    autoincrement = [name for name in ID_TABLES if "PRIMARY KEY AUTOINCREMENT" in created[name]]
    assert autoincrement == ID_TABLES
    assert "outbox_event" in ID_TABLES
    assert "contact" in ID_TABLES


# FTS5's own check: compares every entry with the text of its contact, raises when they differ.
FTS_INTEGRITY_CHECK = (
    "INSERT INTO contact_search (contact_search, rank) VALUES ('integrity-check', 1)"
)

# --- the migration, on a database with rows -------------------------------------------------


# Rows are written at head (the code writes today's schema) and taken back to 0005 by the
# downgrades, which keep them; then 0006 is tested on them.
@pytest.fixture(params=BACKENDS)
async def app_at_head(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FastAPI]:
    async with fresh_database(request.param, tmp_path) as fresh:
        application = create_app(Settings(database_url=fresh.url))
        await migrate.upgrade(application.state.db)
        yield application
        await application.state.db.dispose()


async def schema_objects(db: Database) -> dict[str, str]:
    """SQLite: every index and trigger, name -> SQL (the FTS5 table's included); PostgreSQL:
    every index and trigger of the public schema."""
    if db.is_sqlite:
        query = "SELECT name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')"
    else:
        query = (
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' UNION ALL "
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal"
        )
    async with db.writer.connect() as connection:
        rows = await connection.execute(text(query))
        return {name: sql or "" for name, sql in rows}


async def table_rows(db: Database) -> dict[str, list[Any]]:
    def read(connection: Connection) -> dict[str, list[Any]]:
        # The tables of the revision the database is at (later ones add some).
        present = set(inspect(connection).get_table_names()) & set(Base.metadata.tables)
        everything = {name: text(f"SELECT * FROM {name}") for name in present}  # noqa: S608
        return {
            name: sorted(map(tuple, connection.execute(query).all()), key=repr)
            for name, query in everything.items()
        }

    async with db.writer.connect() as connection:
        return await connection.run_sync(read)


async def test_the_migration_keeps_rows_indexes_triggers_search_and_counts(
    app_at_head: FastAPI,
) -> None:
    db: Database = app_at_head.state.db
    actor = await write_every_way(db)  # creates, imports, updates and deletes
    await migrate.downgrade(db, "0005")
    async with unit_of_work(db) as session:
        largest = await session.execute(text("SELECT max(contact_id) FROM contact_version"))
        largest_id_ever = largest.scalar_one()
        # The newest contact is deleted just before the upgrade: its id is the one at risk.
        await session.execute(text("DELETE FROM contact WHERE id = :id"), {"id": largest_id_ever})
    objects, rows = await schema_objects(db), await table_rows(db)

    await migrate.upgrade(db, "0006")

    assert await schema_objects(db) == objects
    assert await table_rows(db) == rows
    await migrate.upgrade(db)
    async with unit_of_work(db) as session:
        assert await contact_count_drift(session) == []
        added = await create_contact(session, actor, person(1000))
    assert added.contact.id > largest_id_ever
    texts = await searched_texts(db, actor.account_id)
    for needle in ("groningen", "moved3@", "example.com", "person1000", "am"):
        expected = {handle for handle, joined in texts.items() if needle in joined}
        assert expected
        assert await search(db, actor.account_id, needle) == expected, needle
    if db.is_sqlite:
        async with unit_of_work(db) as session:
            await session.execute(text(FTS_INTEGRITY_CHECK))
    async with unit_of_work(db) as session:
        await session.execute(text("DELETE FROM contact WHERE id = :id"), {"id": added.contact.id})
        assert await contact_count_drift(session) == []

    await migrate.downgrade(db, "0005")
    assert await schema_objects(db) == objects
    await migrate.upgrade(db, "0006")
    assert await schema_objects(db) == objects


async def test_the_api_counts_searches_and_never_reuses_ids_after_the_migration(
    app_at_head: FastAPI,
) -> None:
    db: Database = app_at_head.state.db
    team = await make_team(db)
    transport = httpx.ASGITransport(app=app_at_head)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        ids = [await dnsimple_create(http, team, f"c{n}@example.com") for n in range(3)]
        deleted = await http.delete(contact_url(team, ids[-1]), headers=team.headers)
        assert deleted.status_code == 204

        await migrate.downgrade(db, "0005")
        await migrate.upgrade(db)

        newer = await dnsimple_create(http, team, "zebedeus@example.com")
        assert newer > ids[-1]
        retried = await http.delete(contact_url(team, ids[-1]), headers=team.headers)
        assert retried.status_code == 404
        listed = await http.get("/api/v1/contacts", headers=team.headers)
        assert listed.json()["meta"]["total"] == 3
        found = await http.get(contacts_url(team), headers=team.headers)
        assert newer in [c["id"] for c in found.json()["data"]]
        searched = await http.get(
            "/api/v1/contacts", params={"query": "zebedeus@"}, headers=team.headers
        )
        assert [c["email"] for c in searched.json()["data"]] == ["zebedeus@example.com"]
