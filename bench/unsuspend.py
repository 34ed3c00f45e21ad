"""The unsuspend scenario: an account whose registrant serves N gTLD domains misses the
verification deadline (the worker suspends all N), then verifies: every suspension is lifted
in one transaction, with one domain.unsuspended event and one history entry per domain.

Measured: the verifying transaction, from its first statement to its commit (the target is
under 2 s for 10,000 domains on PostgreSQL), and the suspending one for comparison.

    .venv/bin/python -m bench.unsuspend --backend postgresql --domains 10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from bench.seed import _insert_domains, create_database, drop_database
from nichandle import write_path
from nichandle.accounts import service as accounts
from nichandle.accounts.service import Actor
from nichandle.contacts import service as contacts
from nichandle.db import migrate
from nichandle.db.base import utcnow
from nichandle.db.engine import Database
from nichandle.db.engine import create_database as open_database
from nichandle.db.session import unit_of_work
from nichandle.domains.models import Domain, DomainStatus
from nichandle.events.models import OutboxEvent
from nichandle.settings import Settings
from nichandle.verification import service as verification
from nichandle.verification.models import Verification, VerificationReason
from nichandle.verification.service import DomainRef

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
REGISTRANT = {
    "first_name": "Bulk",
    "last_name": "Registrant",
    "address_street": "Damrak",
    "address_house_number": "1",
    "address_postal_code": "1012 LG",
    "address_city": "Amsterdam",
    "address_country_code": "NL",
    "email": "bulk.registrant@example.com",
    "phone": "+31201234567",
}


async def _seed(db: Database, url: str, domains: int) -> tuple[Actor, int]:
    """An account, its registrant on ``domains`` .com domains (inserted in bulk: seeding, not a
    product path), and the open verification of its email covering them all."""
    async with unit_of_work(db) as session:
        account = await accounts.create_account(session, "Unsuspend bench")
        actor = Actor(account.id, None, "bench")
        registrant = (await contacts.create_contact(session, actor, REGISTRANT)).contact
    engine = db.writer
    names = [f"held-{n:06d}.com" for n in range(domains)]
    await _insert_domains(engine, actor.account_id, names, lambda _n: {"registrant": registrant.id})
    async with unit_of_work(db) as session:
        found = await session.execute(
            select(Domain.id, Domain.name, Domain.tld).where(Domain.account_id == actor.account_id)
        )
        refs = [DomainRef(*row) for row in found]
        await verification.registrant_set(
            session, actor, registrant, refs, VerificationReason.NEW_REGISTRATION
        )
    async with unit_of_work(db) as session:
        verification_id = await session.scalar(
            select(Verification.id).where(Verification.account_id == actor.account_id)
        )
    assert verification_id is not None
    return actor, verification_id


async def _count(db: Database, account_id: int, **where: Any) -> int:
    async with unit_of_work(db, write=False) as session:
        if "event" in where:
            query = select(func.count()).where(
                OutboxEvent.account_id == account_id, OutboxEvent.type == where["event"]
            )
        else:
            query = select(func.count()).where(
                Domain.account_id == account_id, Domain.status == where["status"]
            )
        return int(await session.scalar(query) or 0)


async def measure(url: str, domains: int) -> dict[str, Any]:
    write_path.connect()
    db = open_database(Settings(database_url=url))
    try:
        await migrate.upgrade(db)
        actor, verification_id = await _seed(db, url, domains)
        # Past the deadline: the worker's round suspends every domain.
        async with unit_of_work(db) as session:
            await session.execute(
                update(Verification)
                .where(Verification.id == verification_id)
                .values(deadline_at=utcnow() - timedelta(days=1), due_at=utcnow())
            )
        started = time.perf_counter()
        async with unit_of_work(db) as session:
            await verification.run_due(session, limit=10)
        suspend_seconds = time.perf_counter() - started
        suspended = await _count(db, actor.account_id, status=DomainStatus.SUSPENDED)

        staff = Actor(actor.account_id, None, "bench")
        started = time.perf_counter()
        async with unit_of_work(db) as session:
            await verification.verify_by_id(session, staff, verification_id)
        unsuspend_seconds = time.perf_counter() - started
        return {
            "domains": domains,
            "suspended": suspended,
            "suspend_seconds": round(suspend_seconds, 3),
            "unsuspend_seconds": round(unsuspend_seconds, 3),
            "registered_after": await _count(db, actor.account_id, status=DomainStatus.REGISTERED),
            "unsuspended_events": await _count(db, actor.account_id, event="domain.unsuspended"),
        }
    finally:
        await db.dispose()


async def run(backend: str, domains: int, admin_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        url = await create_database(backend, admin_url, Path(directory))
        try:
            return {"backend": backend, **await measure(url, domains)}
        finally:
            await drop_database(url, admin_url)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.unsuspend", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.backend, args.domains, args.postgres_url))))


if __name__ == "__main__":
    main()
