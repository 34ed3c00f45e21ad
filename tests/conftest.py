"""Fixtures: the whole suite runs against SQLite and a real PostgreSQL, schema from migrations.

Outside CI the PostgreSQL half skips with a message when no server answers; with CI=true it
fails instead, so CI can never pass without it.
"""

from __future__ import annotations

import importlib
import pkgutil
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import nichandle
from nichandle.accounts import service as accounts
from nichandle.app import create_app
from nichandle.db import migrate
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.settings import Settings
from tests.fresh_database import IN_CI as IN_CI  # re-exported for tests
from tests.fresh_database import TestDatabase, fresh_database


def _import_every_module() -> None:
    """Hypothesis draws some values from the constants of the local modules imported so far
    (hypothesis.internal.conjecture.providers), so what a fuzz or property test generates
    would depend on which tests ran before it in its process (pytest-xdist, lazy imports):
    every module is imported first. Not the migrations, which alembic runs."""
    for module in pkgutil.walk_packages(nichandle.__path__, "nichandle."):
        if not module.name.startswith("nichandle.db.migrations"):
            importlib.import_module(module.name)


_import_every_module()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestDatabase]:
    """A fresh, empty database per backend for the whole session."""
    async with fresh_database(request.param, tmp_path_factory.mktemp(request.param)) as database:
        yield database


@pytest.fixture(scope="session")
def settings(database_url: TestDatabase) -> Settings:
    return Settings(database_url=database_url.url)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    await migrate.upgrade(application.state.db)
    yield application
    await application.state.db.dispose()


@pytest.fixture(scope="session")
def db(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@dataclass
class Team:
    """An account with an account token, as a test sees it."""

    id: int
    slug: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_team(db: Database, name: str | None = None, **overrides: Any) -> Team:
    async with unit_of_work(db) as session:
        account = await accounts.create_account(
            session, name or f"Team {secrets.token_hex(3)}", **overrides
        )
        _token, secret = await accounts.create_token(session, account=account)
        return Team(account.id, account.slug, secret)


@pytest.fixture
async def team(db: Database) -> Team:
    return await make_team(db)


@pytest.fixture
async def other_team(db: Database) -> Team:
    return await make_team(db)


def contact_payload(**overrides: Any) -> dict[str, Any]:
    """A valid native create body; keyword overrides replace or add fields."""
    body: dict[str, Any] = {
        "first_name": "Jan",
        "last_name": "Jansen",
        "address_street": "Damrak",
        "address_house_number": "1",
        "address_postal_code": "1012 LG",
        "address_city": "Amsterdam",
        "address_country_code": "NL",
        "email": "jan@example.com",
        "phone": "+31201234567",
    }
    body.update(overrides)
    return body


def us_contact_payload(**overrides: Any) -> dict[str, Any]:
    return contact_payload(
        **{
            "first_name": "First",
            "last_name": "User",
            "address_street": "Main Street",
            "address_house_number": "123",
            "address_postal_code": "10001",
            "address_city": "New York",
            "address_state": "NY",
            "address_country_code": "US",
            "email": "first@example.com",
            "phone": "+18001234567",
            **overrides,
        }
    )


async def create_contact(client: httpx.AsyncClient, team: Team, **overrides: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/contacts", json=contact_payload(**overrides), headers=team.headers
    )
    assert response.status_code in (200, 201), response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def designated_agent(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> int:
    """Records a Designated Agent approving changes of registrant for both parties: a registrant
    then changes at once under cor-2024, for tests about something else
    (docs/registrant-change.md). ``headers``: the team's, unless the client carries them."""
    recorded = await client.post(
        "/api/v1/designated-agents",
        json={"name": "Agent", "email": "agent@example.net", "parties": "both"},
        headers=headers,
    )
    assert recorded.status_code == 201, recorded.text
    agent_id: int = recorded.json()["data"]["id"]
    return agent_id


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
