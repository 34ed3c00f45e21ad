"""The ceiling: the SQL a request runs, replayed through the raw driver with no HTTP, no ORM.

``capture`` sends requests to an in-process app (httpx's ASGI transport) and records every
statement and its parameters as the driver received them (SQLAlchemy's
``before_cursor_execute``), so the replay runs exactly our repository's SQL, authentication
included. ``python -m bench.ceiling`` replays them (job on stdin, result on stdout): asyncpg on
PostgreSQL (one connection per concurrent loop, each statement on its own, as our read requests
run there: Database.statement_reader), sqlite3 on SQLite (BEGIN ... COMMIT per request, as the
app reads there, with its pragmas).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import time
from datetime import datetime
from typing import Any

from bench.load import percentile

Statement = tuple[str, list[Any]]


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "$dt" in value:
        return datetime.fromisoformat(value["$dt"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


async def capture(url: str, requests: list[dict[str, Any]]) -> list[list[Statement]]:
    """The statements each request runs, in order (one list per request)."""
    import httpx
    from sqlalchemy import event

    from nichandle.app import create_app
    from nichandle.settings import Settings

    app = create_app(Settings(database_url=url, dnsimple_rate_limit_per_hour=10**9))
    db = app.state.db
    seen: list[Statement] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        params = list(parameters) if isinstance(parameters, (list, tuple)) else []
        seen.append((statement, [_encode(p) for p in params]))

    engines = {db.reader.sync_engine, db.writer.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    captured: list[list[Statement]] = []
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for spec in requests:
                # Twice: the first may touch the token's last_used_at, which is no read's cost.
                for attempt in range(2):
                    seen.clear()
                    response = await client.request(
                        spec["method"],
                        spec["path"],
                        headers=spec.get("headers", {}),
                        content=spec.get("body", "").encode() or None,
                    )
                    if response.status_code >= 400:
                        raise RuntimeError(
                            f"capture: {spec['method']} {spec['path']} -> "
                            f"{response.status_code} {response.text[:300]}"
                        )
                    if attempt == 1:
                        captured.append([s for s in seen if _replayable(s[0])])
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)
        await db.dispose()
    return captured


def _replayable(sql: str) -> bool:
    """The request's own statements: not the transaction control the replay does itself
    (SQLite's BEGIN), nor a token's last_used_at touch (at most once a minute, not a read's
    cost)."""
    word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return word not in ("BEGIN", "COMMIT", "ROLLBACK", "UPDATE")


# -- replay -------------------------------------------------------------------------------------


async def _replay_postgresql(job: dict[str, Any]) -> tuple[list[int], float]:
    import asyncpg

    batches = [[(sql, _decode(params)) for sql, params in batch] for batch in job["batches"]]
    loops = int(job["loops"])
    connections = [await asyncpg.connect(job["dsn"]) for _ in range(loops)]
    latencies: list[int] = []
    start = time.perf_counter()
    record_from = start + float(job["warmup"])
    stop_at = record_from + float(job["duration"])

    async def loop(connection: Any, offset: int) -> None:
        index = offset
        while time.perf_counter() < stop_at:
            batch = batches[index % len(batches)]
            index += 1
            started = time.perf_counter_ns()
            for sql, params in batch:
                await connection.fetch(sql, *params)
            if started / 1e9 >= record_from:
                latencies.append(time.perf_counter_ns() - started)

    await asyncio.sleep(0)
    await asyncio.gather(*(loop(c, i * 7919) for i, c in enumerate(connections)))
    for connection in connections:
        await connection.close()
    return latencies, float(job["duration"])


def _replay_sqlite(job: dict[str, Any]) -> tuple[list[int], float]:
    batches = [[(sql, _decode(params)) for sql, params in batch] for batch in job["batches"]]
    connection = sqlite3.connect(job["path"], isolation_level=None, check_same_thread=False)
    # The pragmas the app sets on every connection (db/engine.py).
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=1"):
        connection.execute(f"PRAGMA {pragma}")
    latencies: list[int] = []
    start = time.perf_counter()
    record_from = start + float(job["warmup"])
    stop_at = record_from + float(job["duration"])
    index = int(job.get("offset", 0))
    while time.perf_counter() < stop_at:
        batch = batches[index % len(batches)]
        index += 1
        started = time.perf_counter_ns()
        connection.execute("BEGIN")
        for sql, params in batch:
            connection.execute(sql, params).fetchall()
        connection.execute("COMMIT")
        if started / 1e9 >= record_from:
            latencies.append(time.perf_counter_ns() - started)
    connection.close()
    return latencies, float(job["duration"])


def main() -> None:
    job = json.load(sys.stdin)
    if job["backend"] == "postgresql":
        import uvloop

        latencies, seconds = uvloop.run(_replay_postgresql(job))
    else:
        latencies, seconds = _replay_sqlite(job)
    json.dump({"latencies_ns": latencies, "seconds": seconds}, sys.stdout)
    sys.stdout.flush()
    os._exit(0)


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Merges the replay processes' raw latencies into one figure."""
    latencies = sorted(x for r in results for x in r["latencies_ns"])
    seconds = max((r["seconds"] for r in results), default=0.0)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds if seconds else 0.0,
        "p50_ms": percentile(latencies, 0.50) / 1e6,
        "p99_ms": percentile(latencies, 0.99) / 1e6,
        "processes": len(results),
    }


if __name__ == "__main__":
    main()
