"""A bounded HTTP/1.1 load generator, run as its own process: ``python -m bench.load``.

It reads one job (JSON) on stdin and prints one result (JSON) on stdout. Each of ``concurrency``
keep-alive connections sends its next request as soon as the previous answer is read (a closed
loop, like wrk), for ``warmup`` seconds unrecorded and then ``duration`` seconds recorded. Requests
are pre-encoded bytes; a body may hold the marker ``__SEQ__``, replaced by a number unique to the
run, so creates can stay new. Latencies are kept raw (nanoseconds) and the percentiles are
computed from them, never from averages. Only 127.0.0.1 is accepted as a target.

The client's own CPU use (user + system seconds per wall second) is measured and reported, so a
reader can tell the client was not the bottleneck.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SEQ_MARKER = b"__SEQ__"
ALLOWED_HOSTS = frozenset({"127.0.0.1"})
REQUEST_TIMEOUT_SECONDS = 10.0


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""

    def encode(self, host: str, port: int, seq: int) -> bytes:
        body = self.body.replace(SEQ_MARKER, str(seq).encode()) if self.body else b""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head + body


@dataclass
class Tally:
    latencies_ns: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    timeouts: int = 0
    connection_errors: int = 0


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Reads one response (Content-Length or chunked body); returns its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = -1
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value.strip())
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length > 0:
        await reader.readexactly(length)
    return status


async def _connection(
    job: dict[str, Any],
    requests: list[Request],
    offset: int,
    tally: Tally,
    record_from: float,
    stop_at: float,
    seq: list[int],
) -> None:
    host, port = job["host"], job["port"]
    reader, writer = await asyncio.open_connection(host, port)
    index = offset
    try:
        while time.perf_counter() < stop_at:
            request = requests[index % len(requests)]
            index += 1
            seq[0] += 1
            data = request.encode(host, port, seq[0])
            started = time.perf_counter_ns()
            try:
                writer.write(data)
                status = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT_SECONDS)
            except TimeoutError:
                if started / 1e9 >= record_from:
                    tally.timeouts += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError):
                if started / 1e9 >= record_from:
                    tally.connection_errors += 1
                writer.close()
                await asyncio.sleep(0.01)
                reader, writer = await asyncio.open_connection(host, port)
                continue
            if started / 1e9 >= record_from:
                tally.latencies_ns.append(time.perf_counter_ns() - started)
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
    finally:
        writer.close()


def percentile(sorted_values: list[int], fraction: float) -> float:
    """Nearest-rank percentile of sorted raw values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return float(sorted_values[rank - 1])


async def run(job: dict[str, Any]) -> dict[str, Any]:
    if job["host"] not in ALLOWED_HOSTS:
        raise SystemExit(f"refusing to load {job['host']}: only 127.0.0.1 is allowed")
    requests = [
        Request(r["method"], r["path"], r.get("headers", {}), r.get("body", "").encode())
        for r in job["requests"]
    ]
    concurrency = int(job["concurrency"])
    tally = Tally()
    seq = [int(job.get("seq_start", 0))]
    start = time.perf_counter()
    record_from = start + float(job.get("warmup", 1.0))
    stop_at = record_from + float(job["duration"])
    tasks = [
        asyncio.ensure_future(
            _connection(job, requests, i * 7919, tally, record_from, stop_at, seq)
        )
        for i in range(concurrency)
    ]
    # The client's CPU is measured over the recorded window only.
    await asyncio.sleep(max(0.0, record_from - time.perf_counter()))
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    wall_before = time.perf_counter()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - wall_before
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage_after.ru_utime - usage_before.ru_utime) + (
        usage_after.ru_stime - usage_before.ru_stime
    )
    latencies = sorted(tally.latencies_ns)
    count = len(latencies)
    server_errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    client_errors = sum(n for status, n in tally.statuses.items() if 400 <= status < 500)
    return {
        "requests": count,
        "seconds": wall,
        "rps": count / wall if wall else 0.0,
        "p50_ms": percentile(latencies, 0.50) / 1e6,
        "p90_ms": percentile(latencies, 0.90) / 1e6,
        "p99_ms": percentile(latencies, 0.99) / 1e6,
        "max_ms": (latencies[-1] / 1e6) if latencies else float("nan"),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "errors_5xx": server_errors,
        "errors_4xx": client_errors,
        "timeouts": tally.timeouts,
        "connection_errors": tally.connection_errors,
        "client_cpu": cpu / wall if wall else 0.0,
        "seq_end": seq[0],
    }


def main() -> None:
    job = json.load(sys.stdin)
    runner: Callable[..., Any] = asyncio.run
    try:
        import uvloop  # lower client overhead when available (uvicorn[standard] brings it)

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        pass
    result = runner(run(job))
    json.dump(result, sys.stdout)
    sys.stdout.flush()
    os._exit(0)  # don't wait for sockets to linger


if __name__ == "__main__":
    main()
