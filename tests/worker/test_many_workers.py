"""PostgreSQL, where several workers run at once: a `nichandle worker` SIGKILLed twice in the
middle of delivering a burst loses nothing, and two workers sharing a burst never both deliver
an event."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from nichandle.db.engine import Database, create_database
from nichandle.events.models import DeliveryState
from nichandle.settings import Settings
from nichandle.webhooks.models import Webhook
from nichandle.worker.loop import Worker
from nichandle.worker.send import Sender
from tests import fresh_database as databases
from tests.conftest import Team, create_contact
from tests.test_live_server import NICHANDLE
from tests.worker.conftest import MakeWebhook, deliveries_of, events_of
from tests.worker.receiver import Receiver

BURST = 1_000
KILL_AT = (150, 550)  # requests received when the running worker is killed
DEADLINE_SECONDS = 60


@pytest.fixture(scope="module", params=[pytest.param("postgresql", marks=pytest.mark.postgresql)])
async def worker_database(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[databases.TestDatabase]:
    directory = tmp_path_factory.mktemp("workers")
    async with databases.fresh_database("postgresql", directory) as database:
        yield database


async def burst(client: httpx.AsyncClient, team: Team, count: int, *, parallel: int = 8) -> None:
    """``count`` contacts created through the API, ``parallel`` requests at a time."""
    queue = iter(range(count))

    async def creator() -> None:
        for n in queue:
            await create_contact(client, team, first_name=f"Burst{n}", email=f"b{n}@example.com")

    await asyncio.gather(*(creator() for _ in range(parallel)))


async def all_delivered(db: Database, webhook: Webhook, *, count: int = BURST) -> bool:
    stored = await deliveries_of(db, webhook)
    return len(stored) == count and all(d.state == DeliveryState.DELIVERED for d in stored)


async def start_worker(database_url: str, log: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "NICHANDLE_DATABASE_URL": database_url,
        "NICHANDLE_WEBHOOKS_ALLOW_PRIVATE": "true",
        # A killed worker's claims return to the pool after this, not after a minute.
        "NICHANDLE_WORKER_LEASE_SECONDS": "4",
        "NICHANDLE_WEBHOOK_TIMEOUT_SECONDS": "2",
        "NICHANDLE_WORKER_POLL_SECONDS": "0.1",
    }
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            str(NICHANDLE),
            "worker",
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )


async def test_worker_killed_twice_mid_delivery_loses_no_event(
    client: httpx.AsyncClient,
    worker_database: databases.TestDatabase,
    db: Database,
    team: Team,
    receiver: Receiver,
    make_webhook: MakeWebhook,
    tmp_path: Path,
) -> None:
    webhook = await make_webhook(team, receiver.url())
    log = tmp_path / "worker.log"
    running = await start_worker(worker_database.url, log)
    killed: list[int] = []

    def kill_mid_delivery(_request: object) -> None:
        # From inside the receiver, before it answers: the worker has sent this request (and
        # others of its batch) and recorded none of them.
        if len(killed) < len(KILL_AT) and len(receiver.requests) >= KILL_AT[len(killed)]:
            os.kill(running.pid, signal.SIGKILL)
            killed.append(running.pid)

    receiver.on_request = kill_mid_delivery
    try:
        async with asyncio.timeout(DEADLINE_SECONDS):
            changes = asyncio.create_task(burst(client, team, BURST))
            for kills in range(1, len(KILL_AT) + 1):
                await receiver.wait_for(lambda kills=kills: len(killed) == kills, seconds=30)
                assert await running.wait() == -signal.SIGKILL
                running = await start_worker(worker_database.url, log)
            await changes
            events = await events_of(db, team)
            assert len(events) == BURST
            wanted = {event.uuid for event in events}
            await receiver.wait_for(lambda: wanted <= set(receiver.event_ids()), seconds=30)
            # The killed workers' sends may have brought the last UUIDs; their claims are sent
            # again (and recorded) once their leases end: wait for the database to say so.
            # Another process writes it: polled, there is nothing in this one to await.
            while not await all_delivered(db, webhook):  # noqa: ASYNC110
                await asyncio.sleep(0.2)
    finally:
        running.terminate()
        await running.wait()
    assert len(killed) == 2
    assert set(receiver.event_ids()) == wanted
    # Some were sent twice (by a killed worker, then again): at least once, never lost.
    assert len(receiver.requests) >= BURST
    assert "Traceback" not in log.read_text()
    stored = await deliveries_of(db, webhook)
    assert len(stored) == BURST
    assert {d.state for d in stored} == {DeliveryState.DELIVERED}


async def test_two_workers_share_a_burst_and_deliver_each_event_once(
    client: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    team: Team,
    receiver: Receiver,
    make_webhook: MakeWebhook,
) -> None:
    webhook = await make_webhook(team, receiver.url())
    receiver.delay = 0.005  # a batch takes a moment, so the other worker claims the next one
    await burst(client, team, 300)
    small = settings.model_copy(update={"worker_batch_size": 10, "worker_dispatch_batch_size": 10})
    handled = [0, 0]

    async def work(index: int) -> None:
        database = create_database(small)
        try:
            async with Sender(small) as sender:
                worker = Worker(database, small, sender)
                # Until all is delivered: a round can find nothing while the other worker holds
                # the dispatch position and the deliveries it is making.
                while not await all_delivered(db, webhook, count=300):
                    handled[index] += await worker.dispatch() + await worker.deliver()
        finally:
            await database.dispose()

    async with asyncio.timeout(DEADLINE_SECONDS):
        await asyncio.gather(work(0), work(1))
    ids = receiver.event_ids()
    assert len(ids) == 300
    assert len(set(ids)) == 300
    assert all(handled), handled
