"""Benchmark data: a fresh database per backend, contacts through the bulk import, and domains
that use them (inserted in bulk with SQLAlchemy Core over the models' tables: seeding, not a
product path, so no history or outbox rows are written for them)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from nichandle.contacts.models import Contact
from nichandle.db.engine import async_url
from nichandle.domains.models import ROLES, Domain, DomainContact
from nichandle.events.models import OutboxEvent

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DOMAIN_PREFIX = "bench-"
PROPAGATION_PREFIX = "fanout-"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def nichandle_command(*args: str) -> list[str]:
    """The nichandle CLI of this interpreter's environment."""
    return [sys.executable, "-c", "from nichandle.cli import main; main()", *args]


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        nichandle_command(*args),
        env=env,
        capture_output=True,
        text=True,
        check=False,
        input=stdin,
    )
    if done.returncode != 0:
        raise RuntimeError(f"nichandle {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def web_session_cookie(env: dict[str, str], base_url: str, account: BenchAccount) -> str:
    """A ``Cookie`` header of a web UI user of the account, signed in through the sign-in page
    (the web scenarios' pages need one)."""
    email, password = f"bench-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
    run_cli(
        env,
        "users",
        "create",
        email,
        "--account",
        account.slug,
        "--password-stdin",
        stdin=password + "\n",
    )
    with httpx.Client(base_url=base_url, timeout=30) as http:
        form = http.get("/ui/sign-in")
        found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert found, form.text
        signed = http.post(
            "/ui/sign-in",
            data={"csrf_token": found.group(1), "email": email, "password": password},
        )
        if signed.status_code != 303:
            raise RuntimeError(f"web sign-in failed: {signed.status_code} {signed.text[:500]}")
        return f"nichandle_session={http.cookies['nichandle_session']}"


async def create_database(backend: str, admin_url: str, directory: Path) -> str:
    """A new SQLite file, or a new PostgreSQL database; returns its URL."""
    if backend == "sqlite":
        return f"sqlite:///{directory / 'bench.db'}"
    name = f"nichandle_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


async def drop_database(url: str, admin_url: str) -> None:
    if url.startswith("sqlite"):
        return  # the file goes with its temporary directory
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass
class BenchAccount:
    id: int
    slug: str
    token: str


def create_account(env: dict[str, str], name: str, slug: str) -> BenchAccount:
    created = json.loads(run_cli(env, "accounts", "create", name, "--slug", slug, "--json"))
    return BenchAccount(created["account"]["id"], created["account"]["slug"], created["token"])


def engine_for(url: str) -> AsyncEngine:
    return create_async_engine(async_url(url), pool_size=2, max_overflow=0)


# -- contacts -----------------------------------------------------------------------------------


def make_contacts_script() -> Path:
    return BENCH_DIR / "make_contacts.py"


def have_bulk_import(env: dict[str, str]) -> bool:
    """Whether `nichandle contacts import` and bench/make_contacts.py exist in this checkout."""
    if not make_contacts_script().exists():
        return False
    done = subprocess.run(
        nichandle_command("contacts", "import", "--help"),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0


def write_contacts(count: int, out: Path, *, seed: int, fmt: str = "csv") -> None:
    subprocess.run(
        [
            *(sys.executable, str(make_contacts_script()), str(count), str(out)),
            *("--format", fmt, "--seed", str(seed)),
        ],
        check=True,
        cwd=ROOT,
    )


@dataclass
class ImportTiming:
    rows: int
    seconds: float
    summary: dict[str, Any]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def import_contacts(env: dict[str, str], path: Path, slug: str, rows: int) -> ImportTiming:
    """Times `nichandle contacts import` as a user runs it: the whole command, process start,
    parsing and validation included."""
    fmt = "jsonl" if path.suffix == ".jsonl" else "csv"
    started = time.perf_counter()
    output = run_cli(
        env, "contacts", "import", str(path), "--account", slug, "--format", fmt, "--json"
    )
    seconds = time.perf_counter() - started
    summary: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    if summary.get("rejected") or not summary.get("complete", True):
        raise RuntimeError(f"the import was not clean: {summary}")
    return ImportTiming(rows, seconds, summary)


def api_contact(n: int, salt: str) -> dict[str, Any]:
    """A valid native create body (fallback seeding through the API)."""
    cities = [("Amsterdam", "1012 LG", "Damrak"), ("Utrecht", "3511 AA", "Oudegracht")]
    city, postal, street = cities[n % len(cities)]
    return {
        "first_name": f"Bench{n % 997}",
        "last_name": f"Person{n}",
        "address_street": street,
        "address_house_number": str(1 + n % 300),
        "address_postal_code": postal,
        "address_city": city,
        "address_country_code": "NL",
        "email": f"person{n}.{salt}@example.com",
        "phone": "+31201234567",
    }


async def seed_contacts_through_api(
    base_url: str, token: str, count: int, *, start: int, concurrency: int = 8
) -> float:
    """Fallback while the bulk import is missing: creates contacts over the native API."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    salt = secrets.token_hex(3)
    numbers = iter(range(start, start + count))
    started = time.perf_counter()

    async def worker(client: httpx.AsyncClient) -> None:
        for n in numbers:
            response = await client.post(
                "/api/v1/contacts", json=api_contact(n, salt), headers=headers
            )
            response.raise_for_status()

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return time.perf_counter() - started


# -- domains ------------------------------------------------------------------------------------

BATCH = 2000


def _domain_row(account_id: int, name: str, now: datetime) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "name": name,
        "tld": name.rsplit(".", 1)[1],
        "status": "registered",
        "autorenew": False,
        "locked": False,
        "privacy": False,
        "nameservers": ["ns1.example.net", "ns2.example.net"],
        "renewal_price_minor": 1299,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + timedelta(days=365),
    }


async def _insert_domains(
    engine: AsyncEngine,
    account_id: int,
    names: Sequence[str],
    roles_for: Any,
) -> None:
    """Inserts domains and their role rows; ``roles_for(index)`` -> {role: contact_id}."""
    now = datetime.now(UTC)
    for start in range(0, len(names), BATCH):
        chunk = names[start : start + BATCH]
        async with engine.begin() as connection:
            await connection.execute(
                insert(Domain), [_domain_row(account_id, name, now) for name in chunk]
            )
            found = await connection.execute(
                select(Domain.id, Domain.name).where(
                    Domain.account_id == account_id, Domain.name.in_(chunk)
                )
            )
            ids = {name: domain_id for domain_id, name in found}
            role_rows = []
            for offset, name in enumerate(chunk):
                for role, contact_id in roles_for(start + offset).items():
                    role_rows.append(
                        {
                            "domain_id": ids[name],
                            "role": role,
                            "account_id": account_id,
                            "contact_id": contact_id,
                        }
                    )
            if role_rows:
                await connection.execute(insert(DomainContact), role_rows)


async def contact_ids(engine: AsyncEngine, account_id: int) -> list[int]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(Contact.id).where(Contact.account_id == account_id, ~Contact.is_default)
        )
        return [row[0] for row in rows]


async def count_domains(engine: AsyncEngine, account_id: int, prefix: str) -> int:
    async with engine.connect() as connection:
        found = await connection.scalar(
            select(func.count())
            .select_from(Domain)
            .where(Domain.account_id == account_id, Domain.name.startswith(prefix))
        )
        return int(found or 0)


async def seed_domains(
    engine: AsyncEngine, account_id: int, target: int, *, rng: random.Random
) -> int:
    """Tops the account up to ``target`` bench domains, each role a random contact; about a
    quarter leave admin, tech and billing to the default contact. Returns how many were added."""
    have = await count_domains(engine, account_id, DOMAIN_PREFIX)
    if have >= target:
        return 0
    ids = await contact_ids(engine, account_id)
    names = [f"{DOMAIN_PREFIX}{i:07d}.com" for i in range(have, target)]

    def roles_for(_index: int) -> dict[str, int]:
        if rng.random() < 0.25:
            return {"registrant": rng.choice(ids)}
        return {role: rng.choice(ids) for role in ROLES}

    await _insert_domains(engine, account_id, names, roles_for)
    return len(names)


async def seed_fanout(engine: AsyncEngine, account_id: int, contact_id: int, count: int) -> None:
    """``count`` domains whose registrant is ``contact_id`` (the propagation measurement)."""
    names = [f"{PROPAGATION_PREFIX}{i:06d}.net" for i in range(count)]
    await _insert_domains(engine, account_id, names, lambda _i: {"registrant": contact_id})


@dataclass
class Samples:
    handles: list[str]
    domain_names: list[str]
    search_terms: list[str]
    fanout_handle: str | None


async def samples(
    engine: AsyncEngine,
    account_id: int,
    *,
    exclude_handles: Sequence[str],
    rng: random.Random,
    size: int = 1000,
) -> Samples:
    """Random handles and domain names to cycle through, and search terms drawn from real rows
    (a last name, a city, a piece of an email), so every search finds something."""
    async with engine.connect() as connection:
        total = int(
            await connection.scalar(
                select(func.max(Contact.id)).where(Contact.account_id == account_id)
            )
            or 0
        )
        low = int(
            await connection.scalar(
                select(func.min(Contact.id)).where(Contact.account_id == account_id)
            )
            or 0
        )
        wanted = sorted({rng.randint(low, total) for _ in range(size * 2)})
        rows = (
            await connection.execute(
                select(
                    Contact.handle,
                    Contact.last_name,
                    Contact.address_city,
                    Contact.email_normalized,
                ).where(
                    Contact.account_id == account_id,
                    Contact.id.in_(wanted),
                    ~Contact.is_default,
                )
            )
        ).all()
        handles = [row[0] for row in rows if row[0] not in exclude_handles][:size]
        # Searches a person would type that find a few contacts each: the end of an email's
        # local part ("jansen.4711") and a piece of a handle.
        terms: list[str] = []
        for handle, _last_name, _city, email in rows[:100]:
            terms.append(email.split("@", 1)[0].split(".", 1)[-1])
            terms.append(handle[2:9])
        domain_rows = await connection.execute(
            select(Domain.name)
            .where(Domain.account_id == account_id, Domain.name.startswith(DOMAIN_PREFIX))
            .order_by(func.random())
            .limit(size)
        )
        names = [row[0] for row in domain_rows]
    rng.shuffle(terms)
    return Samples(handles, names, terms, None)


async def events_named(engine: AsyncEngine, account_id: int, name: str) -> int:
    async with engine.connect() as connection:
        found = await connection.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.account_id == account_id, OutboxEvent.type == name)
        )
        return int(found or 0)


async def contact_count(engine: AsyncEngine, account_id: int) -> int:
    async with engine.connect() as connection:
        found = await connection.scalar(
            select(func.count()).select_from(Contact).where(Contact.account_id == account_id)
        )
        return int(found or 0)


async def analyze(engine: AsyncEngine) -> None:
    """Fresh planner statistics after bulk loading, as autovacuum would give them soon after;
    on PostgreSQL the loading's dirty pages written out too (CHECKPOINT): with the default
    max_wal_size a 1M-contact load left a checkpoint writing for minutes into the measurements,
    and reads queued on the disk (p99 over 1 s with the machine 6% busy)."""
    async with engine.connect() as connection:
        driver = await connection.get_raw_connection()
        raw: Any = driver.driver_connection
        if engine.dialect.name == "postgresql":
            await raw.execute("VACUUM ANALYZE")
            await raw.execute("CHECKPOINT")
        else:
            await raw.execute("ANALYZE")


def environment(url: str, *, workers: int, concurrency: int) -> dict[str, str]:
    """The server's environment: this database, a pool that covers the concurrency on any one
    worker, and DNSimple's hourly limit lifted so the benchmark measures the API, not 429s."""
    env = dict(os.environ)
    env.update(
        NICHANDLE_DATABASE_URL=url,
        NICHANDLE_DB_POOL_SIZE=str(max(concurrency, 5)),
        NICHANDLE_DB_MAX_OVERFLOW="5",
        NICHANDLE_DNSIMPLE_RATE_LIMIT_PER_HOUR=str(10**9),
        NICHANDLE_WORKERS=str(workers),
    )
    env.pop("NICHANDLE_REDIS_URL", None)
    return env
