"""A fresh database per backend for the worker's tests (the worker drains every account's
outbox, so it gets one of its own), an app over it, and webhooks made with the ORM."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from nichandle.app import create_app
from nichandle.db import migrate
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.events.models import Delivery, OutboxEvent
from nichandle.settings import Settings
from nichandle.webhooks.models import Webhook, WebhookDialect
from nichandle.worker.loop import Worker
from nichandle.worker.send import Sender
from tests.conftest import Team, make_team
from tests.fresh_database import BACKENDS, TestDatabase, fresh_database
from tests.worker.receiver import Receiver, receiving

MakeWebhook = Callable[..., Awaitable[Webhook]]


@pytest.fixture(scope="module", params=BACKENDS)
async def worker_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestDatabase]:
    directory = tmp_path_factory.mktemp(f"worker-{request.param}")
    async with fresh_database(request.param, Path(directory)) as database:
        yield database


@pytest.fixture(scope="module")
def settings(worker_database: TestDatabase) -> Settings:
    return Settings(database_url=worker_database.url, webhooks_allow_private=True)


@pytest.fixture(scope="module")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    await migrate.upgrade(application.state.db)
    yield application
    await application.state.db.dispose()


@pytest.fixture(scope="module")
def db(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def team(db: Database) -> Team:
    return await make_team(db)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as running:
        yield running


@pytest.fixture
async def make_webhook(db: Database) -> AsyncIterator[MakeWebhook]:
    """Makes webhooks (native unless told); each is deleted afterwards, its deliveries with it,
    so no test leaves work for the next one's worker."""
    made: list[int] = []

    async def make(team: Team, url: str, **overrides: Any) -> Webhook:
        async with unit_of_work(db) as session:
            fields: dict[str, Any] = {
                "dialect": WebhookDialect.NATIVE,
                "secret": new_secret(),
                **overrides,
            }
            webhook = Webhook(account_id=team.id, url=url, **fields)
            session.add(webhook)
            await session.flush()
        made.append(webhook.id)
        return webhook

    yield make
    async with unit_of_work(db) as session:
        await session.execute(delete(Webhook).where(Webhook.id.in_(made)))


def new_secret() -> str:
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


async def drain(worker: Worker, *, rounds: int = 50) -> None:
    """Runs rounds until one finds nothing to do."""
    for _ in range(rounds):
        if not await worker.run_once():
            return
    raise AssertionError(f"still busy after {rounds} rounds")


@pytest.fixture
async def worker(db: Database, settings: Settings) -> AsyncIterator[Worker]:
    async with Sender(settings) as sender:
        yield Worker(db, settings, sender)


async def deliveries_of(db: Database, webhook: Webhook) -> list[Delivery]:
    async with unit_of_work(db, write=False) as session:
        return list(
            await session.scalars(
                select(Delivery).where(Delivery.webhook_id == webhook.id).order_by(Delivery.id)
            )
        )


async def events_of(db: Database, team: Team, type_: str | None = None) -> list[OutboxEvent]:
    async with unit_of_work(db, write=False) as session:
        query = select(OutboxEvent).where(OutboxEvent.account_id == team.id)
        if type_ is not None:
            query = query.where(OutboxEvent.type == type_)
        return list(await session.scalars(query.order_by(OutboxEvent.id)))
