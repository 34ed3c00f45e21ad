"""`python -m bench.cpu`: our own CPU per request, in-process, with no HTTP server and no client.

The live benchmark (`python -m bench`) says how fast the whole stack serves; this says where our
share of it goes. It seeds one account on a fresh database (the bulk path, as the benchmark
does), then calls the ASGI app directly, request after request, and reports the process CPU per
request and, on PostgreSQL, the CPU of the database's server processes serving it. Scenarios are
interleaved in rounds and the best round is kept, so a busy machine moves the figures less: CPU
time, unlike wall time, is what a same-hour A/B can compare while other work shares the cores.
`--worker` runs the outbox worker in the process, as `nichandle serve` does, so its share is
counted; `--fanout N` adds `propagation`, a PATCH of the registrant of N domains.
`--profile NAME` prints cProfile's top entries for one scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import os
import pstats
import random
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from sqlalchemy import select

from bench.report import console
from bench.scenarios import Scenario, build
from bench.seed import (
    DEFAULT_POSTGRES,
    Samples,
    analyze,
    create_account,
    create_database,
    drop_database,
    engine_for,
    environment,
    import_contacts,
    run_cli,
    samples,
    seed_domains,
    seed_fanout,
    write_contacts,
)
from nichandle.contacts.models import Contact

READS = ("get", "list", "deep", "search", "dnsimple_list", "namecom_get")
SEQ_MARKER = "__SEQ__"  # as bench/load.py: replaced by a number unique to the request
_sequence = itertools.count(1)


def _scope(spec: dict[str, Any]) -> dict[str, Any]:
    parts = urlsplit(spec["path"])
    headers = [(k.lower().encode(), v.encode()) for k, v in spec.get("headers", {}).items()]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": spec["method"],
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def call(app: Any, spec: dict[str, Any]) -> int:
    """One request through the ASGI app; its status."""
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            body = spec.get("body", "").replace(SEQ_MARKER, str(next(_sequence)))
            return {"type": "http.request", "body": body.encode()}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(spec), receive, send)
    return status


class DatabaseCpu:
    """CPU seconds so far of the PostgreSQL server processes connected to one database (read
    from /proc: the server must be on this machine). None for SQLite, which runs in-process."""

    def __init__(self, url: str, admin_url: str) -> None:
        self.name = urlsplit(url).path.lstrip("/") if url.startswith("postgres") else None
        self.admin_url = admin_url
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.seen: dict[int, float] = {}  # pid -> its CPU at the last reading

    async def spent(self) -> float:
        """CPU seconds since the last call, of every backend that served the database."""
        if self.name is None:
            return 0.0
        admin = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            pids = await admin.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1", self.name
            )
        finally:
            await admin.close()
        spent = 0.0
        for (pid,) in pids:
            now = self._cpu_seconds(pid)
            if now is not None:
                spent += now - self.seen.get(pid, 0.0)
                self.seen[pid] = now
        return spent

    def _cpu_seconds(self, pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            return None
        return (int(fields[11]) + int(fields[12])) / self.ticks  # utime + stime


async def measure(
    app: Any,
    scenarios: list[Scenario],
    requests: dict[str, int],
    rounds: int,
    db: DatabaseCpu,
    settled: Callable[[], Awaitable[None]],
) -> dict[str, tuple[float, float]]:
    """Best (app, database) CPU ms per request of each scenario over ``rounds`` interleaved
    rounds; ``requests`` per scenario and round."""
    best: dict[str, tuple[float, float]] = {}
    for _round in range(rounds):
        for scenario in scenarios:
            specs, count = scenario.requests, requests[scenario.name]
            for spec in specs[: min(20, count)]:  # warm: caches, prepared statements, the pool
                await call(app, spec)
            await db.spent()
            started = time.process_time()
            for n in range(count):
                status = await call(app, specs[n % len(specs)])
                if status not in scenario.expect:
                    raise RuntimeError(f"{scenario.name}: {status} for {specs[n % len(specs)]}")
            await settled()
            app_ms = (time.process_time() - started) * 1000 / count
            db_ms = await db.spent() * 1000 / count
            previous = best.get(scenario.name)
            if previous is None or app_ms + db_ms < sum(previous):
                best[scenario.name] = (app_ms, db_ms)
    return best


@asynccontextmanager
async def outbox_drain(app: Any, settings: Any, worker: bool) -> AsyncIterator[Any]:
    """With ``worker``: a function that runs worker rounds until the outbox is drained, so a
    scenario's share of the worker is counted in it (the app's own worker runs meanwhile, as in
    `nichandle serve`). Without: one that does nothing (the tree may predate the worker)."""
    if not worker:

        async def nothing() -> None:
            return None

        yield nothing
        return
    from nichandle.worker.loop import Worker
    from nichandle.worker.send import Sender

    async with Sender(settings) as sender:
        drainer = Worker(app.state.db, settings, sender)

        async def drain() -> None:
            while await drainer.run_once():
                pass

        yield drain


async def profile(app: Any, scenario: Scenario, requests: int, top: int) -> None:
    for spec in scenario.requests[:20]:
        await call(app, spec)
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(requests):
        await call(app, scenario.requests[n % len(scenario.requests)])
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500, help="per scenario and round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--scenarios", default=",".join(READS))
    parser.add_argument("--worker", action="store_true", help="run the outbox worker too")
    parser.add_argument("--fanout", type=int, default=0, help="domains of the propagation PATCH")
    parser.add_argument(
        "--propagation-requests", type=int, default=3, help="propagation PATCHes per round"
    )
    parser.add_argument("--profile", default="", help="a scenario to run under cProfile")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    host = urlsplit(args.postgres_url).hostname
    if host not in ("127.0.0.1", "localhost"):
        parser.error("the benchmark only runs against 127.0.0.1")
    return args


async def seeded(
    url: str, directory: Path, contacts: int, fanout: int
) -> tuple[Any, Samples, str | None]:
    """The account, samples of it, and with ``fanout`` the handle of the registrant of that
    many more domains (kept out of the samples)."""
    env = environment(url, workers=1, concurrency=1)
    run_cli(env, "db", "upgrade")
    account = create_account(env, "CPU", "cpu")
    path = directory / "contacts.csv"
    write_contacts(contacts, path, seed=7)
    import_contacts(env, path, account.slug, contacts)
    engine = engine_for(url)
    try:
        await seed_domains(engine, account.id, max(contacts // 10, 100), rng=random.Random(7))
        registrant = None
        if fanout:
            async with engine.connect() as connection:
                contact_id, registrant = (
                    await connection.execute(
                        select(Contact.id, Contact.handle)
                        .where(Contact.account_id == account.id, ~Contact.is_default)
                        .order_by(Contact.id)
                        .limit(1)
                    )
                ).one()
            await seed_fanout(engine, account.id, contact_id, fanout)
        await analyze(engine)
        found = await samples(
            engine,
            account.id,
            exclude_handles=[registrant] if registrant else [],
            rng=random.Random(7),
        )
    finally:
        await engine.dispose()
    return account, found, registrant


def propagation(account: Any, registrant: str) -> Scenario:
    return Scenario(
        "propagation",
        "native PATCH of the registrant of the fan-out domains",
        [
            {
                "method": "PATCH",
                "path": f"/api/v1/contacts/{registrant}",
                "headers": {
                    "Authorization": f"Bearer {account.token}",
                    "Content-Type": "application/json",
                },
                "body": json.dumps({"address_line2": f"Floor {SEQ_MARKER}"}),
            }
        ],
        read=False,
    )


async def main_async(args: argparse.Namespace) -> None:
    from nichandle.app import create_app
    from nichandle.settings import Settings

    with tempfile.TemporaryDirectory(prefix="nichandle-cpu-") as tmp:
        url = await create_database(args.backend, args.postgres_url, Path(tmp))
        try:
            account, found, registrant = await seeded(url, Path(tmp), args.contacts, args.fanout)
            wanted = [s for s in args.scenarios.split(",") if s]
            scenarios = [
                s for s in build(account, found, dup_bodies=[], tag="cpu") if s.name in wanted
            ]
            if registrant is not None:
                scenarios.append(propagation(account, registrant))
            requests = {s.name: args.requests for s in scenarios}
            requests["propagation"] = args.propagation_requests
            settings = Settings(database_url=url, dnsimple_rate_limit_per_hour=10**9)
            app = create_app(settings, **({"outbox_worker": True} if args.worker else {}))
            async with (
                app.router.lifespan_context(app),
                outbox_drain(app, settings, args.worker) as drain,
            ):
                if args.profile:
                    chosen = next(s for s in scenarios if s.name == args.profile)
                    await profile(app, chosen, args.requests, args.top)
                    return
                database = DatabaseCpu(url, args.postgres_url)
                best = await measure(app, scenarios, requests, args.rounds, database, drain)
            worker = ", outbox worker in-process" if args.worker else ""
            console.print(
                f"{args.backend}, {args.contacts:,} contacts{worker}, CPU ms per request "
                "(app + database):"
            )
            for name, (app_ms, db_ms) in best.items():
                total = app_ms + db_ms
                console.print(
                    f"  {name:<14} {app_ms:9.3f} + {db_ms:9.3f} = {total:9.3f}"
                    f"  ({1000 / total:,.0f}/s per core)"
                )
        finally:
            await drop_database(url, args.postgres_url)


def main(argv: list[str] | None = None) -> None:
    asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    main()
