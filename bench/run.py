"""`make bench` / `python -m bench`: seeds, serves, loads, measures, and reports.

For each backend: a fresh database; one account grown step by step to each size (contacts
through `nichandle contacts import`, domains in bulk); at each size a live `nichandle serve`
with one worker per core, every scenario at each concurrency from a separate client process,
the raw-driver ceiling of the read scenarios, and the propagation PATCH; at the end the import
rate of a fresh 100k file. Prints tables and writes bench/results/<date>-<backend>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import ceiling, report
from bench.outbox import measure_outbox
from bench.registrant_change import run as measure_registrant_change
from bench.scenarios import Scenario, build, duplicate_bodies
from bench.seed import (
    BENCH_DIR,
    DEFAULT_POSTGRES,
    BenchAccount,
    Samples,
    analyze,
    contact_count,
    create_account,
    create_database,
    drop_database,
    engine_for,
    environment,
    events_named,
    have_bulk_import,
    import_contacts,
    nichandle_command,
    run_cli,
    samples,
    seed_contacts_through_api,
    seed_domains,
    seed_fanout,
    web_session_cookie,
    write_contacts,
)
from bench.unsuspend import run as measure_unsuspend

RESULTS = BENCH_DIR / "results"
# Without the bulk import, contacts are created over the API: slow, so only small sizes.
API_SEEDING_LIMIT = 20_000
# The ceiling replays the SQL of this many of a scenario's requests (all of the search terms).
CAPTURED_REQUESTS = 200


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--sizes", default="10000,100000", help="contacts per step, ascending")
    parser.add_argument("--full", action="store_true", help="add the 1,000,000 step")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds recorded per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds unrecorded per run")
    parser.add_argument("--concurrency", default="1,32")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--fanout", type=int, default=10_000, help="domains of the PATCHed one")
    parser.add_argument(
        "--propagation-repeats", type=int, default=3, help="PATCHes of it (the median is kept)"
    )
    parser.add_argument(
        "--outbox-events", type=int, default=20_000, help="events the outbox scenario delivers"
    )
    parser.add_argument(
        "--unsuspend-domains",
        type=int,
        default=10_000,
        help="domains a verified registrant has unsuspended at once (0 skips it)",
    )
    parser.add_argument(
        "--registrant-change-domains",
        type=int,
        default=10_000,
        help="gTLD domains of a registrant whose email is edited (change of registrant; 0 skips)",
    )
    parser.add_argument("--scenarios", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL"))
    parser.add_argument("--tag", default="", help="added to the results file name")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args(argv)
    args.size_list = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if args.full and 1_000_000 not in args.size_list:
        args.size_list.append(1_000_000)
    args.concurrency_list = [int(c) for c in args.concurrency.split(",") if c.strip()]
    args.postgres_url = args.postgres_url or DEFAULT_POSTGRES
    host = args.postgres_url.split("@")[-1].split("/")[0].split(":")[0]
    if host not in ("127.0.0.1", "localhost"):
        parser.error("the benchmark only runs against 127.0.0.1")
    return args


# -- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`nichandle serve --workers N` on 127.0.0.1, its output in a log file."""

    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(
            nichandle_command(
                "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)
            ),
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.base_url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: see {log}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    # Every worker must be up, not just the first: give the others a moment.
                    time.sleep(1.0)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not answer within 60 s: see {log}")

    def cpu_seconds(self) -> float:
        """CPU time of the server and its worker processes so far."""
        return process_tree_cpu(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


def process_tree_cpu(root: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        stats[pid] = (int(fields[11]), int(fields[12]))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        user, system = stats.get(pid, (0, 0))
        total += user + system
        todo.extend(children.get(pid, []))
    return total / ticks


def system_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


# -- runs ---------------------------------------------------------------------------------------


class Sequence:
    """Numbers for new-contact emails, unique across the whole run."""

    def __init__(self) -> None:
        self.next = int(time.time()) * 1000


def run_load(
    server: Server, scenario: Scenario, concurrency: int, args: argparse.Namespace, seq: Sequence
) -> dict[str, Any]:
    job = {
        "host": "127.0.0.1",
        "port": server.port,
        "concurrency": concurrency,
        "duration": args.duration,
        "warmup": args.warmup,
        "requests": scenario.requests,
        "seq_start": seq.next,
    }
    cpu_before = server.cpu_seconds()
    busy_before, total_before = system_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.load"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
        cwd=BENCH_DIR.parent,
    )
    wall = time.perf_counter() - started
    result: dict[str, Any] = json.loads(done.stdout)
    seq.next = int(result.pop("seq_end")) + 1
    busy_after, total_after = system_cpu()
    result["server_cpu"] = (server.cpu_seconds() - cpu_before) / wall
    result["machine_busy"] = (busy_after - busy_before) / max(1, total_after - total_before)
    unexpected = sum(n for s, n in result["statuses"].items() if int(s) not in scenario.expect)
    result["errors"] = unexpected + result["timeouts"] + result["connection_errors"]
    return result


def run_ceiling(
    backend: str,
    url: str,
    batches: list[list[ceiling.Statement]],
    concurrency: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The replay in one process per worker (as many as the server has), loops split among them;
    sqlite3 is synchronous, so on SQLite each process runs one loop."""
    processes = max(1, min(args.workers, concurrency))
    loops_each = max(1, concurrency // processes) if backend == "postgresql" else 1
    job: dict[str, Any] = {
        "backend": backend,
        "batches": batches,
        "loops": loops_each,
        "duration": min(args.duration, 3.0),
        "warmup": 0.5,
    }
    if backend == "postgresql":
        job["dsn"] = url
    else:
        job["path"] = url.removeprefix("sqlite:///")
    procs = []
    for index in range(processes):
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.ceiling"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=BENCH_DIR.parent,
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({**job, "offset": index * 7919}))
        proc.stdin.close()
        procs.append(proc)
    results = []
    for proc in procs:
        assert proc.stdout is not None
        results.append(json.loads(proc.stdout.read()))
        proc.wait()
    summary = ceiling.summarize(results)
    summary["loops"] = processes * loops_each
    return summary


def console_print(message: str) -> None:
    report.console.print(message)


async def setup_duplicates(base_url: str, account: BenchAccount, tag: str) -> list[str]:
    bodies = duplicate_bodies(20, tag)
    headers = {"Authorization": f"Bearer {account.token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for body in bodies:
            response = await client.post("/api/v1/contacts", content=body, headers=headers)
            if response.status_code not in (200, 201):
                raise RuntimeError(f"setup: {response.status_code} {response.text[:300]}")
    return bodies


async def propagation(
    base_url: str, engine: Any, account: BenchAccount, handle: str, repeats: int = 3
) -> dict[str, Any]:
    """PATCHes the contact that is registrant of the fan-out domains; latency and events."""
    headers = {"Authorization": f"Bearer {account.token}"}
    latencies, events = [], []
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        for n in range(repeats):
            before = await events_named(engine, account.id, "domain.contacts_changed")
            started = time.perf_counter()
            response = await client.patch(
                f"/api/v1/contacts/{handle}",
                json={"address_line2": f"Floor {time.time_ns()}-{n}"},
                headers=headers,
            )
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            events.append(
                await events_named(engine, account.id, "domain.contacts_changed") - before
            )
    latencies.sort()
    return {
        "latency_ms": latencies[len(latencies) // 2],
        "latencies_ms": latencies,
        "events_per_patch": events,
    }


def pick_fanout_handle(url: str, account_id: int) -> tuple[int, str]:
    """A contact that is not the default, for the fan-out domains."""

    async def pick() -> tuple[int, str]:
        from sqlalchemy import select

        from nichandle.contacts.models import Contact

        engine = engine_for(url)
        try:
            async with engine.connect() as connection:
                row = (
                    await connection.execute(
                        select(Contact.id, Contact.handle)
                        .where(Contact.account_id == account_id, ~Contact.is_default)
                        .order_by(Contact.id)
                        .limit(1)
                    )
                ).one()
                return int(row[0]), str(row[1])
        finally:
            await engine.dispose()

    return asyncio.run(pick())


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


def with_engine(url: str, work: Any) -> Any:
    async def go() -> Any:
        engine = engine_for(url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def grow_contacts(
    env: dict[str, str],
    url: str,
    account: BenchAccount,
    size: int,
    step: int,
    args: argparse.Namespace,
    tmp: Path,
    bulk: bool,
    log: Path,
) -> dict[str, Any] | None:
    have = with_engine(url, lambda e: contact_count(e, account.id))
    missing = size - have
    if missing <= 0:
        return None
    if bulk:
        path = tmp / f"contacts-{step}.csv"
        write_contacts(missing, path, seed=args.seed * 1000 + step)
        timing = import_contacts(env, path, account.slug, missing)
        path.unlink()
        return {
            "rows": timing.rows,
            "seconds": timing.seconds,
            "rows_per_second": timing.rows_per_second,
            "via": "contacts import",
        }
    if size > API_SEEDING_LIMIT:
        raise SystemExit(
            "`nichandle contacts import` or bench/make_contacts.py is missing: "
            f"only sizes up to {API_SEEDING_LIMIT} can be seeded (through the API)"
        )
    server = Server(env, args.workers, log)
    try:
        seconds = asyncio.run(
            seed_contacts_through_api(server.base_url, account.token, missing, start=have)
        )
    finally:
        server.stop()
    return {
        "rows": missing,
        "seconds": seconds,
        "rows_per_second": missing / seconds,
        "via": "API",
    }


def measure_size(
    backend: str,
    env: dict[str, str],
    url: str,
    account: BenchAccount,
    size: int,
    step: int,
    args: argparse.Namespace,
    tmp: Path,
    bulk: bool,
    seq: Sequence,
    fanout: tuple[int, str] | None,
) -> tuple[dict[str, Any], tuple[int, str]]:
    log = tmp / "server.log"
    rng = random.Random(args.seed * 7 + step)
    console_print(f"[bold]{backend}[/bold]: growing the account to {size:,} contacts")
    seeding = grow_contacts(env, url, account, size, step, args, tmp, bulk, log)
    if fanout is None:
        fanout = pick_fanout_handle(url, account.id)
        with_engine(url, lambda e: seed_fanout(e, account.id, fanout[0], args.fanout))
    added = with_engine(url, lambda e: seed_domains(e, account.id, max(size // 10, 1), rng=rng))
    with_engine(url, analyze) if backend == "postgresql" else None
    contacts_now = with_engine(url, lambda e: contact_count(e, account.id))
    console_print(
        f"  {contacts_now:,} contacts, +{added:,} domains"
        + (f", seeded at {seeding['rows_per_second']:,.0f} rows/s" if seeding else "")
    )
    sample: Samples = with_engine(
        url, lambda e: samples(e, account.id, exclude_handles=[fanout[1]], rng=rng)
    )
    tag = f"{step}-{seq.next}"
    server = Server(env, args.workers, log)
    try:
        dup_bodies = asyncio.run(setup_duplicates(server.base_url, account, tag))
        wanted_web = not args.scenarios or any(
            name.startswith("web_") for name in args.scenarios.split(",")
        )
        cookie = web_session_cookie(env, server.base_url, account) if wanted_web else None
        scenarios = build(account, sample, dup_bodies=dup_bodies, tag=tag, web_cookie=cookie)
        if args.scenarios:
            wanted = set(args.scenarios.split(","))
            scenarios = [s for s in scenarios if s.name in wanted]
        measured: dict[str, Any] = {}
        for scenario in scenarios:
            entry: dict[str, Any] = {"title": scenario.title, "runs": {}}
            for concurrency in args.concurrency_list:
                result = run_load(server, scenario, concurrency, args, seq)
                entry["runs"][str(concurrency)] = result
                console_print(report.progress_line(backend, size, scenario, concurrency, result))
            measured[scenario.name] = entry
        probes = asyncio.run(run_probes(server.base_url, account, contacts_now))
        for name, found in probes.items():
            console_print(f"  probe {name}: p50 {found['p50_ms']:,.1f} ms ({found['path']})")
        prop = asyncio.run(
            _propagation(server.base_url, url, account, fanout[1], args.propagation_repeats)
        )
        console_print(
            f"  propagation: PATCH of a registrant of {args.fanout:,} domains took "
            f"{prop['latency_ms']:,.0f} ms, events {prop['events_per_patch']}"
        )
    finally:
        server.stop()
    if not args.no_ceiling:
        for scenario in scenarios:
            if not scenario.read:
                continue
            batches = asyncio.run(ceiling.capture(url, scenario.requests[:CAPTURED_REQUESTS]))
            entry = measured[scenario.name]
            entry["statements"] = len(batches[0]) if batches else 0
            entry["sql"] = [s[0] for s in batches[0]] if batches else []
            entry["ceiling"] = {}
            for concurrency in args.concurrency_list:
                result = run_ceiling(backend, url, batches, concurrency, args)
                entry["ceiling"][str(concurrency)] = result
                ours = entry["runs"][str(concurrency)]["rps"]
                entry["ceiling"][str(concurrency)]["ratio"] = (
                    ours / result["rps"] if result["rps"] else 0.0
                )
            console_print(report.ceiling_line(backend, size, scenario, entry))
    return (
        {
            "contacts": contacts_now,
            "domains_added": added,
            "seeding": seeding,
            "scenarios": measured,
            "propagation": prop,
            "probes": probes,
        },
        fanout,
    )


async def run_probes(base_url: str, account: BenchAccount, contacts: int) -> dict[str, Any]:
    """Single requests, one after another, for what the scenarios keep fixed: the last page
    (its depth grows with the account) and a broad search (a common surname: its matches, and
    so its exact total, grow with the account)."""
    headers = {"Authorization": f"Bearer {account.token}"}
    last_page = max(1, -(-contacts // 25))
    paths = {
        "last_page": f"/api/v1/contacts?page={last_page}",
        "broad_search": "/api/v1/contacts?query=jansen",
    }
    found: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for name, path in paths.items():
            latencies = []
            for _ in range(15):
                started = time.perf_counter()
                response = await client.get(path, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            latencies.sort()
            found[name] = {
                "path": path,
                "p50_ms": latencies[len(latencies) // 2],
                "max_ms": latencies[-1],
                "total": response.json()["meta"]["total"],
            }
    return found


async def _propagation(
    base_url: str, url: str, account: BenchAccount, handle: str, repeats: int
) -> dict[str, Any]:
    engine = engine_for(url)
    try:
        return await propagation(base_url, engine, account, handle, repeats)
    finally:
        await engine.dispose()


def measure_import(
    env: dict[str, str], rows: int, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    account = create_account(env, "Import", "bench-import")
    path = tmp / "import.csv"
    write_contacts(rows, path, seed=args.seed * 1000 + 999)
    timing = import_contacts(env, path, account.slug, rows)
    path.unlink()
    return {
        "rows": rows,
        "seconds": timing.seconds,
        "rows_per_second": timing.rows_per_second,
        "summary": timing.summary,
    }


def bench_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    seq = Sequence()
    with tempfile.TemporaryDirectory(prefix="nichandle-bench-") as tmp_name:
        tmp = Path(tmp_name)
        url = asyncio.run(create_database(backend, args.postgres_url, tmp))
        try:
            env = environment(url, workers=args.workers, concurrency=max(args.concurrency_list))
            run_cli(env, "db", "upgrade")
            account = create_account(env, "Bench", "bench")
            bulk = have_bulk_import(env)
            if not bulk:
                console_print(
                    "[yellow]`nichandle contacts import` or bench/make_contacts.py is missing: "
                    "seeding through the API, no import figure[/yellow]"
                )
            steps = []
            fanout = None
            for step, size in enumerate(args.size_list):
                measured, fanout = measure_size(
                    backend, env, url, account, size, step, args, tmp, bulk, seq, fanout
                )
                steps.append(measured)
            imported = None
            if bulk and args.import_rows:
                console_print(f"[bold]{backend}[/bold]: importing {args.import_rows:,} rows")
                imported = measure_import(env, args.import_rows, args, tmp)
                console_print(f"  {imported['rows_per_second']:,.0f} rows/s")
            delivered = None
            if args.outbox_events:
                console_print(
                    f"[bold]{backend}[/bold]: outbox, {args.outbox_events:,} events to a webhook"
                )
                delivered = measure_outbox(env, url, args.outbox_events, tmp / "worker.log")
                console_print(
                    f"  {delivered['events_per_second']:,.0f} events/s "
                    f"(steady {delivered['steady_events_per_second']:,.0f})"
                )
            lifted = None
            if args.unsuspend_domains:
                console_print(
                    f"[bold]{backend}[/bold]: unsuspending {args.unsuspend_domains:,} domains"
                )
                lifted = asyncio.run(
                    measure_unsuspend(backend, args.unsuspend_domains, args.postgres_url)
                )
                console_print(f"  {lifted['unsuspend_seconds']:.2f} s in one transaction")
            changed = None
            if args.registrant_change_domains:
                console_print(
                    f"[bold]{backend}[/bold]: editing the registrant of "
                    f"{args.registrant_change_domains:,} domains"
                )
                changed = asyncio.run(
                    measure_registrant_change(
                        backend, args.registrant_change_domains, args.postgres_url
                    )
                )
                console_print(
                    f"  {changed['median_seconds']:.2f} s in one transaction (median), "
                    f"{changed['pending']:,} pending changes"
                )
                if moved := changed["reassign"]:
                    console_print(
                        f"  reassign of {moved['domains']:,} registrants: "
                        f"{moved['seconds']:.2f} s, {moved['statements']} statements"
                    )
        finally:
            asyncio.run(drop_database(url, args.postgres_url))
    return {
        "backend": backend,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(backend, args),
        "settings": {
            "sizes": args.size_list,
            "concurrency": args.concurrency_list,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "workers": args.workers,
            "fanout_domains": args.fanout,
            "outbox_events": args.outbox_events,
        },
        "steps": steps,
        "growth": report.growth(steps),
        "import": imported,
        "outbox": delivered,
        "unsuspend": lifted,
        "registrant_change": changed,
        "wall_seconds": time.perf_counter() - started,
    }


def machine(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
    }
    if backend == "postgresql":

        async def version() -> str:
            import asyncpg

            connection = await asyncpg.connect(args.postgres_url)
            try:
                return str(await connection.fetchval("SHOW server_version"))
            finally:
                await connection.close()

        info["postgresql"] = asyncio.run(version())
    return info


def postgres_problem(url: str) -> str | None:
    async def check() -> None:
        import asyncpg

        connection = await asyncpg.connect(url, timeout=5)
        await connection.close()

    try:
        asyncio.run(check())
    except Exception as exc:  # any failure to connect is reported the same way
        return f"{type(exc).__name__}: {exc}"
    return None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and (problem := postgres_problem(args.postgres_url)):
        raise SystemExit(
            f"PostgreSQL is not reachable at {args.postgres_url} ({problem}): start it, point "
            "BENCH_POSTGRES_URL (or --postgres-url) at a server on 127.0.0.1, or run "
            "`make bench BENCH_ARGS='--backend sqlite'`"
        )
    RESULTS.mkdir(exist_ok=True)
    for backend in backends:
        result = bench_backend(backend, args)
        stamp = datetime.now().strftime("%Y-%m-%d")
        suffix = f"-{args.tag}" if args.tag else ""
        path = RESULTS / f"{stamp}-{backend}{suffix}.json"
        path.write_text(json.dumps(result, indent=2, default=_json_default))
        report.print_backend(result)
        console_print(f"results: {path.relative_to(BENCH_DIR.parent)}")


def _json_default(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(type(value).__name__)
