"""SQLite's trigram index of contact search (migration 0005): kept in step with the contacts by
every kind of write, used for needles of three characters or more, and finding exactly what a
scan of the text finds. (PostgreSQL's trigram indexes are ordinary indexes: nothing to keep.)"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text

from nichandle.accounts.service import Actor
from nichandle.contacts import bulk, repository
from nichandle.contacts.bulk import ContactImport, ImportRow
from nichandle.contacts.models import Contact
from nichandle.contacts.repository import ContactFilter
from nichandle.contacts.service import create_contact, delete_contact, update_contact
from nichandle.db import migrate
from nichandle.db.engine import Database, create_database
from nichandle.db.session import unit_of_work
from nichandle.paging import page_request
from nichandle.settings import Settings
from tests.conftest import contact_payload, make_team
from tests.fresh_database import fresh_database

CITIES = ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Zwolle"]
NAMES = ["Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "O'Brien", 'Van "Q" Dam']


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database("sqlite", tmp_path) as fresh:
        db = create_database(Settings(database_url=fresh.url))
        await migrate.upgrade(db)
        yield db
        await db.dispose()


def person(n: int) -> dict[str, Any]:
    chooser = random.Random(n)
    return contact_payload(
        first_name=f"Person{n}",
        last_name=chooser.choice(NAMES),
        company_name=chooser.choice([None, f"Acme {n % 7} B.V.", "100% Holding_X"]),
        email=f"p{n}.{chooser.choice(['mail', 'post'])}@example.com",
        address_city=chooser.choice(CITIES),
        job_title="Owner",
    )


async def write_every_way(db: Database) -> Actor:
    """Creates, imports, updates (searched and unsearched fields) and deletes contacts."""
    team = await make_team(db)
    actor = Actor(team.id, None, "native")
    async with unit_of_work(db) as session:
        made = [(await create_contact(session, actor, person(n))).contact for n in range(40)]
        handles = [contact.handle for contact in made]
    importer = ContactImport(actor)
    imported = [ImportRow(n, person(n)) for n in range(40, 70)]
    async with unit_of_work(db) as session:
        await importer.import_batch(session, bulk.check_rows(imported))
    async with unit_of_work(db) as session:
        for n, handle in enumerate(handles[:10]):
            changes = {"email": f"moved{n}@example.org", "address_city": "Groningen"}
            await update_contact(session, actor, handle, changes)
        await update_contact(session, actor, handles[10], {"phone": "+31201234568"})
        for handle in handles[30:]:
            await delete_contact(session, actor, handle)
    return actor


async def search(db: Database, account_id: int, needle: str) -> set[str]:
    async with unit_of_work(db, write=False) as session:
        found, total = await repository.page(
            session, account_id, ContactFilter(query=needle), (), page_request(1, 100)
        )
    assert total == len(found)
    return {contact.handle for contact in found}


async def searched_texts(db: Database, account_id: int) -> dict[str, str]:
    """handle -> the six searched fields as search_text joins them, computed here."""
    async with unit_of_work(db, write=False) as session:
        contacts = await session.scalars(select(Contact).where(Contact.account_id == account_id))
        return {
            c.handle: "\n".join(
                [
                    c.first_name,
                    c.last_name,
                    c.company_name or "",
                    c.email_normalized,
                    c.handle,
                    c.address_city,
                ]
            ).lower()
            for c in contacts
        }


async def test_the_index_matches_the_contacts_after_every_kind_of_write(
    sqlite_db: Database,
) -> None:
    await write_every_way(sqlite_db)
    async with unit_of_work(sqlite_db) as session:
        indexed = await session.scalar(text("SELECT count(*) FROM contact_search_docsize"))
        # Compares every entry with the text of its contact; raises when they differ.
        await session.execute(
            text("INSERT INTO contact_search (contact_search, rank) VALUES ('integrity-check', 1)")
        )
    assert indexed == 60


async def test_search_finds_exactly_the_contacts_containing_the_needle(
    sqlite_db: Database,
) -> None:
    actor = await write_every_way(sqlite_db)
    texts = await searched_texts(sqlite_db, actor.account_id)
    chooser = random.Random(4711)
    needles = ["groningen", "moved3@", "example.com", "100%", "g_x", '"q"', "o'b", "am", "x"]
    # FTS5 query syntax, taken literally.
    needles += ['"', '"""', "a OR b", "NEAR(p o)", "-x*", "^per", "son1:", "(((", "é", "😀😀😀"]
    for found_in in chooser.sample(sorted(texts.values()), 15):
        start = chooser.randrange(len(found_in) - 8)
        needles += [found_in[start : start + size] for size in (2, 3, 5, 8)]
    needles = [needle for needle in needles if "\n" not in needle]
    for needle in needles:
        expected = {handle for handle, joined in texts.items() if needle.lower() in joined}
        assert await search(sqlite_db, actor.account_id, needle) == expected, needle
        assert await search(sqlite_db, actor.account_id, needle.upper()) == expected, needle
    assert await search(sqlite_db, actor.account_id, "rotterdam") != set()


async def query_plan(db: Database, account_id: int, needle: str) -> str:
    """SQLite's plan for the statement a search page runs."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    engine = db.reader.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await search(db, account_id, needle)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    statement, parameters = next((s, p) for s, p in seen if "LIKE" in s)
    async with db.reader.connect() as connection:
        rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return "\n".join(str(row[-1]) for row in rows)


async def test_a_needle_of_a_trigram_or_more_is_looked_up_in_the_index(
    sqlite_db: Database,
) -> None:
    actor = await write_every_way(sqlite_db)
    assert "contact_search VIRTUAL TABLE INDEX" in await query_plan(
        sqlite_db, actor.account_id, "jansen"
    )
    # Shorter needles have no trigram: the (account_id, search_text) index is scanned.
    short = await query_plan(sqlite_db, actor.account_id, "am")
    assert "contact_search" not in short
    assert "ix_contact_account_id_search_text" in short
