"""A live `nichandle serve` on a fresh database, with accounts and tokens made directly in it,
for the tests that talk to the API over real HTTP (the official client, schemathesis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from nichandle.accounts import service as accounts
from nichandle.db.engine import create_database
from nichandle.db.session import unit_of_work
from nichandle.settings import Settings
from tests.fresh_database import fresh_database
from tests.test_live_server import LiveServer, running_server

# High enough for schemathesis' hundreds of requests per token.
LIVE_RATE_LIMIT = 1_000_000


@dataclass
class Tenant:
    """An account with an owner, the owner's personal token, and an account it can't use."""

    account_id: int
    owner_email: str
    token: str
    personal_token: str
    other_account_id: int


@asynccontextmanager
async def live_server(backend: str, directory: Path) -> AsyncIterator[LiveServer]:
    async with (
        fresh_database(backend, directory) as database,
        running_server(
            database.url,
            directory,
            NICHANDLE_DNSIMPLE_RATE_LIMIT_PER_HOUR=str(LIVE_RATE_LIMIT),
            NICHANDLE_REDIS_URL=None,
        ) as server,
    ):
        yield server


async def make_tenant(database_url: str, name: str) -> Tenant:
    """Written straight into the server's database (the server has migrated it by now)."""
    db = create_database(Settings(database_url=database_url))
    try:
        async with unit_of_work(db) as session:
            owner = f"owner@{accounts.slugify(name)}.example"
            account = await accounts.create_account(session, name, owner_email=owner)
            _token, secret = await accounts.create_token(session, account=account)
            user = await accounts.get_user(session, owner)
            _personal, personal = await accounts.create_token(session, user=user)
            other = await accounts.create_account(session, f"{name} Other")
            return Tenant(account.id, owner, secret, personal, other.id)
    finally:
        await db.dispose()
