"""`python -m bench.cpu`: our own CPU per request, in-process, with no HTTP server and no client.

The live benchmark (`python -m bench`) says how fast the whole stack serves; this says where our
share of it goes. It seeds one account on a fresh database (the bulk path, as the benchmark
does), then calls the ASGI app directly, request after request, for the read scenarios, and
reports the process CPU per request (the database's own CPU is in its own process and not
counted). Scenarios are interleaved in rounds and the best round is kept, so a busy machine
moves the figures less. `--profile NAME` prints cProfile's top entries for one scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import random
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.run import DEFAULT_POSTGRES, console_print
from bench.scenarios import Scenario, build
from bench.seed import (
    Samples,
    create_account,
    create_database,
    drop_database,
    engine_for,
    environment,
    import_contacts,
    run_cli,
    samples,
    seed_domains,
    write_contacts,
)

READS = ("get", "list", "deep", "search", "dnsimple_list", "namecom_get")


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
            return {"type": "http.request", "body": spec.get("body", "").encode()}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(spec), receive, send)
    return status


async def measure(
    app: Any, scenarios: list[Scenario], requests: int, rounds: int
) -> dict[str, float]:
    """Best CPU ms per request of each scenario over ``rounds`` interleaved rounds."""
    best: dict[str, float] = {}
    for _round in range(rounds):
        for scenario in scenarios:
            specs = scenario.requests
            for spec in specs[:20]:  # warm: caches, prepared statements, the pool
                await call(app, spec)
            started = time.process_time()
            for n in range(requests):
                status = await call(app, specs[n % len(specs)])
                if status not in scenario.expect:
                    raise RuntimeError(f"{scenario.name}: {status} for {specs[n % len(specs)]}")
            per_request = (time.process_time() - started) * 1000 / requests
            best[scenario.name] = min(best.get(scenario.name, per_request), per_request)
    return best


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
    parser.add_argument("--profile", default="", help="a scenario to run under cProfile")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    host = urlsplit(args.postgres_url).hostname
    if host not in ("127.0.0.1", "localhost"):
        parser.error("the benchmark only runs against 127.0.0.1")
    return args


async def seeded(url: str, directory: Path, contacts: int) -> tuple[Any, Samples]:
    env = environment(url, workers=1, concurrency=1)
    run_cli(env, "db", "upgrade")
    account = create_account(env, "CPU", "cpu")
    path = directory / "contacts.csv"
    write_contacts(contacts, path, seed=7)
    import_contacts(env, path, account.slug, contacts)
    engine = engine_for(url)
    try:
        await seed_domains(engine, account.id, max(contacts // 10, 100), rng=random.Random(7))
        found = await samples(engine, account.id, exclude_handles=[], rng=random.Random(7))
    finally:
        await engine.dispose()
    return account, found


async def main_async(args: argparse.Namespace) -> None:
    from nichandle.app import create_app
    from nichandle.settings import Settings

    with tempfile.TemporaryDirectory(prefix="nichandle-cpu-") as tmp:
        url = await create_database(args.backend, args.postgres_url, Path(tmp))
        try:
            account, found = await seeded(url, Path(tmp), args.contacts)
            wanted = [s for s in args.scenarios.split(",") if s]
            scenarios = [
                s for s in build(account, found, dup_bodies=[], tag="cpu") if s.name in wanted
            ]
            app = create_app(Settings(database_url=url, dnsimple_rate_limit_per_hour=10**9))
            async with app.router.lifespan_context(app):
                if args.profile:
                    chosen = next(s for s in scenarios if s.name == args.profile)
                    await profile(app, chosen, args.requests, args.top)
                    return
                best = await measure(app, scenarios, args.requests, args.rounds)
            console_print(f"{args.backend}, {args.contacts:,} contacts, CPU ms per request:")
            for name, ms in best.items():
                console_print(f"  {name:<14} {ms:6.3f}  ({1000 / ms:,.0f}/s per core)")
        finally:
            await drop_database(url, args.postgres_url)


def main(argv: list[str] | None = None) -> None:
    asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    main()
