"""`nichandle db check [--fix]`: the trigger-kept contact counters against the rows, after an
import, a cascade delete and concurrent creates, and drift found and repaired, on both
databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select, text

from nichandle.accounts.service import Actor
from nichandle.contacts import bulk
from nichandle.contacts.bulk import ContactImport, ImportRow
from nichandle.contacts.models import COUNT_SHARDS, Contact, ContactCount
from nichandle.db import migrate
from nichandle.db.check import CountDrift, contact_count_drift, repair_contact_counts
from nichandle.db.engine import Database, create_database
from nichandle.db.session import unit_of_work
from nichandle.settings import Settings
from tests.conftest import contact_payload, make_team
from tests.fresh_database import BACKENDS, fresh_database
from tests.test_cli import Cli
from tests.test_live_server import assert_healthy, client_for, running_server

if TYPE_CHECKING:
    from tests.conftest import TestDatabase


OFF_BY_FIVE = (
    "UPDATE contact_count SET contacts = contacts + 5 WHERE account_id = :a AND shard = :s"
)


def person(n: int) -> dict[str, Any]:
    return contact_payload(first_name=f"Person{n}", email=f"p{n}@example.com")


async def stored_total(db: Database, account_id: int) -> int:
    async with unit_of_work(db, write=False) as session:
        query = select(func.coalesce(func.sum(ContactCount.contacts), 0)).where(
            ContactCount.account_id == account_id
        )
        return int(await session.scalar(query) or 0)


async def contacts_of(db: Database, account_id: int) -> int:
    async with unit_of_work(db, write=False) as session:
        query = select(func.count()).select_from(Contact).where(Contact.account_id == account_id)
        return int(await session.scalar(query) or 0)


async def drift_of(db: Database, account_id: int | None = None) -> list[CountDrift]:
    async with unit_of_work(db, write=False) as session:
        return await contact_count_drift(session, account_id=account_id)


async def test_drift_is_found_per_shard_and_repaired(db: Database) -> None:
    team = await make_team(db)
    actor = Actor(team.id, None, "native")
    importer = ContactImport(actor)
    async with unit_of_work(db) as session:
        rows = [ImportRow(n, person(n)) for n in range(40)]
        await importer.import_batch(session, bulk.check_rows(rows))
    assert await drift_of(db, team.id) == []
    assert await stored_total(db, team.id) == 40

    async with unit_of_work(db, write=False) as session:
        shards = sorted(
            (
                await session.scalars(
                    select(ContactCount.shard).where(ContactCount.account_id == team.id)
                )
            ).all()
        )
    assert len(shards) == COUNT_SHARDS  # 40 consecutive ids
    first, second = shards[:2]
    async with unit_of_work(db) as session:
        # A row off by some, and a row lost.
        await session.execute(
            text(OFF_BY_FIVE),
            {"a": team.id, "s": first},
        )
        await session.execute(
            text("DELETE FROM contact_count WHERE account_id = :a AND shard = :s"),
            {"a": team.id, "s": second},
        )
    drift = await drift_of(db, team.id)
    by_shard = {d.shard: (d.stored, d.actual) for d in drift}
    assert sorted(by_shard) == [first, second]
    assert by_shard[first][0] - by_shard[first][1] == 5
    assert by_shard[second][0] == 0 < by_shard[second][1]
    assert all(d.account_id == team.id for d in drift)
    assert await stored_total(db, team.id) != 40

    async with unit_of_work(db) as session:
        repaired = await repair_contact_counts(session, account_id=team.id)
    assert repaired == drift
    assert await drift_of(db, team.id) == []
    assert await stored_total(db, team.id) == 40


async def test_counts_stay_exact_after_an_import_and_a_cascade_delete(db: Database) -> None:
    team, other = await make_team(db), await make_team(db)
    for account in (team, other):
        importer = ContactImport(Actor(account.id, None, "native"))
        async with unit_of_work(db) as session:
            rows = [ImportRow(n, person(n)) for n in range(50)]
            await importer.import_batch(session, bulk.check_rows(rows))
    assert await drift_of(db, team.id) == []
    assert await stored_total(db, team.id) == await contacts_of(db, team.id) == 50

    async with unit_of_work(db) as session:
        # ON DELETE CASCADE takes the account's contacts and its counter rows with it.
        await session.execute(text("DELETE FROM account WHERE id = :id"), {"id": team.id})
    assert await drift_of(db, team.id) == []
    assert await contacts_of(db, team.id) == 0
    assert await stored_total(db, team.id) == 0
    assert await drift_of(db, other.id) == []
    assert await stored_total(db, other.id) == 50


# --- through the console script: fresh databases ---------------------------------------------


@pytest.fixture(params=BACKENDS)
async def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestDatabase]:
    async with fresh_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
async def fresh_app_db(fresh_db: TestDatabase) -> AsyncIterator[Database]:
    """The fresh database migrated, in-process (the console script's start-up is the slow part)."""
    db = create_database(Settings(database_url=fresh_db.url))
    await migrate.upgrade(db)
    yield db
    await db.dispose()


async def test_the_cli_reports_drift_with_exit_1_and_fix_repairs_it(
    fresh_db: TestDatabase, fresh_app_db: Database
) -> None:
    team = await make_team(fresh_app_db)
    importer = ContactImport(Actor(team.id, None, "native"))
    async with unit_of_work(fresh_app_db) as session:
        await importer.import_batch(
            session, bulk.check_rows([ImportRow(n, person(n)) for n in range(30)])
        )
        await session.execute(text("UPDATE contact_count SET contacts = contacts + 2"))
    cli = Cli(fresh_db.url)

    drifted = await cli("db", "check", check=False)
    assert drifted.returncode == 1
    assert f"account {team.id} shard" in drifted.stdout
    assert "--fix" in drifted.stderr

    fixed = await cli("db", "check", "--fix", "--json")
    report = fixed.json()
    assert report["repaired"] is True
    assert {row["stored"] - row["actual"] for row in report["contact_counts"]} == {2}
    assert len(report["contact_counts"]) == COUNT_SHARDS  # 30 consecutive ids

    clean = await cli("db", "check", "--json")
    assert clean.json() == {"contact_counts": [], "repaired": False}


async def test_counts_stay_exact_after_concurrent_creates_and_deletes_on_a_live_server(
    fresh_db: TestDatabase, fresh_app_db: Database, tmp_path: Path
) -> None:
    first, second = await make_team(fresh_app_db), await make_team(fresh_app_db)
    async with (
        running_server(fresh_db.url, tmp_path) as server,
        asyncio.timeout(90),
        client_for(server, first.token) as a,
        client_for(server, second.token) as b,
    ):
        created = await asyncio.gather(
            *(http.post("/api/v1/contacts", json=person(n)) for n in range(24) for http in (a, b))
        )
        assert_healthy(list(created), 201)
        handles = [r.json()["data"]["handle"] for r in created[::2]]
        deleted = await asyncio.gather(
            *(a.delete(f"/api/v1/contacts/{handle}") for handle in handles[1:9])
        )
        assert_healthy(list(deleted), 204, 409)
        gone = sum(r.status_code == 204 for r in deleted)
        totals = [(await http.get("/api/v1/contacts")).json()["meta"]["total"] for http in (a, b)]
    assert totals == [24 - gone, 24]
    assert await contacts_of(fresh_app_db, first.id) == 24 - gone
    assert await drift_of(fresh_app_db) == []
