"""The commands: `nichandle serve` delivers on its own (SQLite, as `make run`), `nichandle
worker` stops gracefully on SIGTERM, and `nichandle outbox list / retry`."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
from sqlalchemy import update

from nichandle.db.engine import Database, create_database
from nichandle.db.session import unit_of_work
from nichandle.events.models import Delivery, DeliveryState
from nichandle.settings import Settings
from nichandle.webhooks.models import Webhook, WebhookDialect
from nichandle.worker.loop import Worker
from tests.conftest import Team, contact_payload, create_contact
from tests.test_cli import Cli
from tests.test_live_server import NICHANDLE, cli_json, running_server
from tests.worker.conftest import MakeWebhook, deliveries_of, events_of, new_secret
from tests.worker.receiver import Receiver

DEADLINE_SECONDS = 30


async def test_serve_on_sqlite_delivers_without_a_separate_worker(
    tmp_path: Path, receiver: Receiver
) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    async with running_server(url, tmp_path, NICHANDLE_WEBHOOKS_ALLOW_PRIVATE="true") as server:
        team = await cli_json(url, "accounts", "create", "Serving", "--json")
        database = create_database(Settings(database_url=url))
        try:
            async with unit_of_work(database) as session:
                session.add(
                    Webhook(
                        account_id=team["account"]["id"],
                        dialect=WebhookDialect.NATIVE,
                        url=receiver.url(),
                        secret=new_secret(),
                    )
                )
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                created = await http.post(
                    "/api/v1/contacts",
                    json=contact_payload(),
                    headers={"Authorization": f"Bearer {team['token']}"},
                )
            assert created.status_code == 201, created.text
            await receiver.wait_for(lambda: len(receiver.requests) == 1, seconds=DEADLINE_SECONDS)
        finally:
            await database.dispose()
        assert '"contact.created"' in receiver.requests[0].body.decode()
        assert "Traceback" not in server.logs()


async def test_worker_finishes_the_delivery_under_way_on_sigterm(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    team: Team,
    receiver: Receiver,
    make_webhook: MakeWebhook,
) -> None:
    webhook = await make_webhook(team, receiver.url())
    env = {
        **os.environ,
        "NICHANDLE_DATABASE_URL": settings.database_url,
        "NICHANDLE_WEBHOOKS_ALLOW_PRIVATE": "true",
    }
    process = await asyncio.create_subprocess_exec(
        str(NICHANDLE),
        "worker",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # Stopped while the receiver holds the request: the worker waits for the answer and
    # records it before it exits.
    receiver.delay = 0.5
    receiver.on_request = lambda _request: os.kill(process.pid, signal.SIGTERM)
    try:
        await create_contact(client, team, email="graceful@example.com")
        async with asyncio.timeout(DEADLINE_SECONDS):
            _out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert "worker stopped" in err.decode()
    (delivery,) = await deliveries_of(db, webhook)
    assert delivery.state == DeliveryState.DELIVERED
    assert delivery.lease_until is None
    assert len(receiver.requests) == 1


async def test_outbox_list_and_retry(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    team: Team,
    make_webhook: MakeWebhook,
    worker: Worker,
) -> None:
    webhook = await make_webhook(team, "http://127.0.0.1:9/never")
    for n in range(3):
        await create_contact(client, team, email=f"retry{n}@example.com")
    await worker.dispatch()
    first, second, third = await deliveries_of(db, webhook)
    async with unit_of_work(db) as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_([first.id, second.id]))
            .values(state=DeliveryState.FAILED, attempts=12, last_error="answered HTTP 500")
        )
    cli = Cli(settings.database_url)
    # Each command is a process start of a second or two: those that touch different rows run
    # at once.

    listed, table = await asyncio.gather(
        cli("outbox", "list", "--failed", "--json"), cli("outbox", "list", "--failed")
    )
    failed = listed.json()
    assert [row["id"] for row in failed] == [second.id, first.id]
    events = {e.id: e.uuid for e in await events_of(db, team)}
    assert failed[0]["event"] == events[second.event_id]
    assert failed[0]["state"] == "failed"
    assert failed[0]["last_error"] == "answered HTTP 500"
    assert table.stdout.count("failed") == 2

    retried, refused = await asyncio.gather(
        cli("outbox", "retry", str(first.id)), cli("outbox", "retry", str(third.id), check=False)
    )
    assert retried.stdout.startswith("1 deliveries")
    assert refused.returncode == 1
    assert f"delivery {third.id} is pending; only failed ones are retried" in refused.stderr
    assert (await cli("outbox", "retry", "--all-failed")).stdout.startswith("1 deliveries")

    revived = await deliveries_of(db, webhook)
    assert {d.state for d in revived} == {DeliveryState.PENDING}
    assert all(d.attempts == 0 and d.first_attempt_at is None for d in revived[:2])
