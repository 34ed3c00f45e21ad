"""The change-of-registrant scenario (issue 13): one contact is the registrant of N gTLD domains
and its email is edited, as the native contact PATCH does it (one transaction). Under cor-2024
the contact takes the edit, every domain's registrant role moves to a contact holding the prior
details, and N pending changes (one request, one mail per party) are recorded.

Measured: the editing transaction, from its first statement to its commit (the target is under
3 s for 10,000 domains on PostgreSQL), over several rounds (a fresh account each: the first
edit moves the domains away from the contact, so a second one would change none), min and
median; the database then holds N pending changes.

    .venv/bin/python -m bench.registrant_change --backend postgresql --domains 10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from bench.cpu import DatabaseCpu
from bench.seed import _insert_domains, analyze, create_database, drop_database
from bench.unsuspend import DEFAULT_POSTGRES, REGISTRANT
from nichandle import write_path
from nichandle.accounts import service as accounts
from nichandle.accounts.service import Actor
from nichandle.contacts import service as contacts
from nichandle.db import migrate
from nichandle.db.engine import Database
from nichandle.db.engine import create_database as open_database
from nichandle.db.session import unit_of_work
from nichandle.events.models import OutboxEvent
from nichandle.registrant_changes import service as registrant_changes
from nichandle.registrant_changes.models import ChangeState, RegistrantChange
from nichandle.settings import Settings


async def _seed(db: Database, domains: int, round_: int) -> tuple[Actor, str]:
    """An account and its registrant on ``domains`` .com domains (inserted in bulk: seeding,
    not a product path)."""
    async with unit_of_work(db) as session:
        account = await accounts.create_account(session, f"Registrant change bench {round_}")
        actor = Actor(account.id, None, "bench")
        registrant = (await contacts.create_contact(session, actor, REGISTRANT)).contact
    names = [f"owned-{round_}-{n:06d}.com" for n in range(domains)]
    await _insert_domains(
        db.writer, actor.account_id, names, lambda _n: {"registrant": registrant.id}
    )
    # As autovacuum would soon after a bulk load: without statistics PostgreSQL plans the
    # roles query (domains.repository.roles_used_by) as nested loops over "tiny" tables, and
    # an edit right after seeding ran for minutes.
    await analyze(db.writer)
    return actor, registrant.handle


async def _pending(db: Database, account_id: int) -> int:
    async with unit_of_work(db, write=False) as session:
        query = select(func.count()).where(
            RegistrantChange.account_id == account_id,
            RegistrantChange.state == ChangeState.PENDING,
        )
        return int(await session.scalar(query) or 0)


async def _events(db: Database, account_id: int, kind: str) -> int:
    async with unit_of_work(db, write=False) as session:
        query = select(func.count()).where(
            OutboxEvent.account_id == account_id, OutboxEvent.type == kind
        )
        return int(await session.scalar(query) or 0)


async def edit_round(
    db: Database, database_cpu: DatabaseCpu, domains: int, round_: int
) -> dict[str, Any]:
    actor, handle = await _seed(db, domains, round_)
    await database_cpu.spent()
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(db.writer.sync_engine, "before_cursor_execute", count)
    started, cpu = time.perf_counter(), time.process_time()
    async with unit_of_work(db) as session:
        await contacts.update_contact(
            session, actor, handle, {"email": f"moved.{round_}@example.org"}
        )
        answered = len(registrant_changes.started_in(session))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    event.remove(db.writer.sync_engine, "before_cursor_execute", count)
    return {
        "seconds": round(seconds, 3),
        "statements": statements,
        # The machine is shared: CPU (ours, and the PostgreSQL backends') moves less than time.
        "cpu_seconds": round(cpu, 3),
        "database_cpu_seconds": round(await database_cpu.spent(), 3),
        "answered": answered,
        "pending": await _pending(db, actor.account_id),
        "started_events": await _events(db, actor.account_id, "domain.registrant_change.started"),
    }


async def measure(url: str, admin_url: str, domains: int, rounds: int) -> dict[str, Any]:
    write_path.connect()
    db = open_database(Settings(database_url=url))
    try:
        await migrate.upgrade(db)
        database_cpu = DatabaseCpu(url, admin_url)
        results = [await edit_round(db, database_cpu, domains, n) for n in range(rounds)]
        for result in results:
            if result["pending"] != domains or result["answered"] != domains:
                raise SystemExit(f"expected {domains} pending changes, got {result}")
        times = [result["seconds"] for result in results]
        return {
            "domains": domains,
            "rounds": times,
            "statements": results[-1]["statements"],
            "cpu_seconds": [result["cpu_seconds"] for result in results],
            "database_cpu_seconds": [result["database_cpu_seconds"] for result in results],
            "min_seconds": min(times),
            "median_seconds": round(statistics.median(times), 3),
            "pending": results[-1]["pending"],
            "started_events": results[-1]["started_events"],
        }
    finally:
        await db.dispose()


async def run(backend: str, domains: int, admin_url: str, rounds: int = 3) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        url = await create_database(backend, admin_url, Path(directory))
        try:
            return {"backend": backend, **await measure(url, admin_url, domains, rounds)}
        finally:
            await drop_database(url, admin_url)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.registrant_change", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    result = asyncio.run(run(args.backend, args.domains, args.postgres_url, args.rounds))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
