"""The change-of-registrant scenario (issue 13): one contact is the registrant of N gTLD domains
and its email is edited, as the native contact PATCH does it (one transaction). Under cor-2024
the contact takes the edit, every domain's registrant role moves to a contact holding the prior
details, and N pending changes (one request, one mail per party) are recorded.

Measured: the editing transaction, from its first statement to its commit (the target is under
3 s for 10,000 domains on PostgreSQL), over several rounds (a fresh account each: the first
edit moves the domains away from the contact, so a second one would change none), min and
median; the database then holds N pending changes. Then, on another account, a reassign of
the registrant role of 1,000 .com domains to another person (``--reassign-domains``, 0 skips).

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
from nichandle.domains.reassign import reassign_contact
from nichandle.events.models import OutboxEvent
from nichandle.registrant_changes import service as registrant_changes
from nichandle.registrant_changes.models import ChangeState, RegistrantChange
from nichandle.settings import Settings

REASSIGN_DOMAINS = 1_000
REASSIGN_ROUND = 1_000  # its account's and domains' names, apart from the edit rounds'


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


async def reassign_round(db: Database, domains: int) -> dict[str, Any]:
    """The registrant role of ``domains`` .com domains reassigned to another person in one
    transaction (the native reassign, CLI and web UI run it): every change is held pending, and
    the changes are started together (domains.roles.many_domains)."""
    actor, handle = await _seed(db, domains, REASSIGN_ROUND)
    async with unit_of_work(db) as session:
        other = {**REGISTRANT, "first_name": "Other", "email": "other@example.org"}
        to = (await contacts.create_contact(session, actor, other)).contact.handle
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(db.writer.sync_engine, "before_cursor_execute", count)
    started = time.perf_counter()
    async with unit_of_work(db) as session:
        done = await reassign_contact(session, actor, handle, to, roles=["registrant"])
    seconds = time.perf_counter() - started
    event.remove(db.writer.sync_engine, "before_cursor_execute", count)
    pending = await _pending(db, actor.account_id)
    if pending != domains or len(done.pending_registrant) != domains:
        raise SystemExit(f"reassign: expected {domains} pending changes, got {pending}")
    return {
        "domains": domains,
        "seconds": round(seconds, 3),
        "statements": statements,
        "pending": pending,
    }


async def measure(
    url: str, admin_url: str, domains: int, rounds: int, reassign_domains: int = 0
) -> dict[str, Any]:
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
            "reassign": await reassign_round(db, reassign_domains) if reassign_domains else None,
        }
    finally:
        await db.dispose()


async def run(
    backend: str,
    domains: int,
    admin_url: str,
    rounds: int = 3,
    reassign_domains: int = REASSIGN_DOMAINS,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        url = await create_database(backend, admin_url, Path(directory))
        try:
            measured = await measure(url, admin_url, domains, rounds, reassign_domains)
            return {"backend": backend, **measured}
        finally:
            await drop_database(url, admin_url)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.registrant_change", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reassign-domains", type=int, default=REASSIGN_DOMAINS, help="0 skips")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    result = asyncio.run(
        run(args.backend, args.domains, args.postgres_url, args.rounds, args.reassign_domains)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
