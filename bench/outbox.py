"""The outbox scenario: how many events a second one `nichandle worker` delivers to a webhook.

N events are written to the outbox through the product's own emit (one account, one native
webhook on a receiver in this process: uvicorn, answering 204 at once), then a worker starts
and delivers them: dispatch, lease, a signed POST each, record. The rate is the events over the
time from the worker's start until the receiver has had every one (the worker's start-up and
the dispatch included); the steady rate, from the first request to the last, is kept too.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import signal
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

from bench.seed import BenchAccount, create_account, nichandle_command
from nichandle.accounts.service import Actor
from nichandle.db.engine import create_database
from nichandle.db.session import unit_of_work
from nichandle.events import catalogue
from nichandle.events.service import emit_many
from nichandle.serving import listening_socket
from nichandle.settings import Settings
from nichandle.webhooks.models import Webhook, WebhookDialect

DEADLINE_SECONDS = 600
EMIT_BATCH = 1_000


class Receiver:
    """Counts the distinct webhook-ids it is sent, and when the first and the last came."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.ids: set[str] = set()
        self.requests = 0
        self.first: float | None = None
        self.last: float | None = None
        self.complete = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        now = time.perf_counter()
        self.first = self.first or now
        self.last = now
        self.requests += 1
        self.ids.add(dict(scope["headers"])[b"webhook-id"].decode())
        if len(self.ids) >= self.expected:
            self.complete.set()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _emit(url: str, account: BenchAccount, events: int, receiver_url: str) -> None:
    db = create_database(Settings(database_url=url))
    try:
        async with unit_of_work(db) as session:
            session.add(
                Webhook(
                    account_id=account.id,
                    dialect=WebhookDialect.NATIVE,
                    url=receiver_url,
                    secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
                )
            )
        actor = Actor(account.id, None, "bench")
        for start in range(0, events, EMIT_BATCH):
            payloads = [
                catalogue.DomainChanged(domain=f"outbox-{n}.example", domain_id=n)
                for n in range(start, min(start + EMIT_BATCH, events))
            ]
            async with unit_of_work(db) as session:
                await emit_many(session, actor, catalogue.DOMAIN_UPDATED, payloads)
    finally:
        await db.dispose()


async def _deliver(
    env: dict[str, str], url: str, account: BenchAccount, events: int, log: Path
) -> dict[str, Any]:
    sock = listening_socket("127.0.0.1", 0)
    receiver = Receiver(events)
    config = uvicorn.Config(receiver, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await _emit(url, account, events, f"http://127.0.0.1:{sock.getsockname()[1]}/hook")
        started = time.perf_counter()
        with log.open("ab") as out:
            worker = await asyncio.create_subprocess_exec(
                *nichandle_command("worker"),
                env={**env, "NICHANDLE_WEBHOOKS_ALLOW_PRIVATE": "true"},
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            async with asyncio.timeout(DEADLINE_SECONDS):
                await receiver.complete.wait()
        finally:
            worker.send_signal(signal.SIGTERM)
            await worker.wait()
    finally:
        server.should_exit = True
        await serving
        sock.close()
    seconds = time.perf_counter() - started
    steady = (receiver.last or 0.0) - (receiver.first or 0.0)
    return {
        "events": events,
        "requests": receiver.requests,
        "seconds": seconds,
        "events_per_second": events / seconds,
        "steady_events_per_second": events / steady if steady else 0.0,
    }


def measure_outbox(env: dict[str, str], url: str, events: int, log: Path) -> dict[str, Any]:
    """Events delivered per second by one worker (see the module's docstring)."""
    account = create_account(env, "Outbox", f"bench-outbox-{secrets.token_hex(3)}")
    return asyncio.run(_deliver(env, url, account, events, log))
