"""SQLite busy: another connection holds the write lock (another process, a backup, a long
import). A write that can't get it within the busy timeout is a 503 with Retry-After in each
dialect's envelope, not a 500; a read never waits for the lock just to record a token's
last_used_at.

Real locks: a second sqlite3 connection to the same file takes the write lock with BEGIN
IMMEDIATE, as any other process would."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from nichandle.accounts import service as accounts
from nichandle.app import create_app
from nichandle.db import migrate
from nichandle.db.session import unit_of_work
from nichandle.settings import Settings
from tests.conftest import Team, contact_payload, make_team
from tests.dialects.dnsimple.helpers import assert_rate_limit_headers, contact_body

# Long enough that waiting it out shows, short enough for a test that must wait it out.
BUSY_TIMEOUT_MS = 1000


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "busy.db"
    app = create_app(Settings(database_url=f"sqlite:///{path}"))
    await migrate.upgrade(app.state.db)
    await app.state.db.dispose()
    return path


@pytest.fixture
async def busy_app(sqlite_file: Path) -> AsyncIterator[FastAPI]:
    app = create_app(
        Settings(database_url=f"sqlite:///{sqlite_file}", sqlite_busy_timeout_ms=BUSY_TIMEOUT_MS)
    )
    yield app
    await app.state.db.dispose()


@pytest.fixture
async def http(busy_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=busy_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def team(busy_app: FastAPI) -> Team:
    return await make_team(busy_app.state.db)


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another connection holds the database's write lock for the block."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


async def last_used_at(app: FastAPI, team: Team) -> object:
    async with unit_of_work(app.state.db, write=False) as session:
        account = await accounts.get_account(session, team.slug)
        (token,) = await accounts.list_tokens(session, account=account)
        return token.last_used_at


async def test_a_native_write_past_the_busy_timeout_is_503_with_retry_after(
    http: httpx.AsyncClient, team: Team, sqlite_file: Path
) -> None:
    with write_lock_held(sqlite_file):
        response = await http.post("/api/v1/contacts", json=contact_payload(), headers=team.headers)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json() == {"message": "The database is busy; retry shortly"}


async def test_a_dnsimple_write_past_the_busy_timeout_is_503_with_retry_after(
    http: httpx.AsyncClient, team: Team, sqlite_file: Path
) -> None:
    with write_lock_held(sqlite_file):
        # A valid contact: an invalid one is refused before the database is asked anything.
        response = await http.post(
            f"/v2/{team.id}/contacts", json=contact_body(), headers=team.headers
        )
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json() == {"message": "The database is busy; retry shortly"}
    assert_rate_limit_headers(response)


async def test_a_namecom_write_past_the_busy_timeout_is_503_with_retry_after(
    http: httpx.AsyncClient, team: Team, sqlite_file: Path
) -> None:
    with write_lock_held(sqlite_file):
        response = await http.post(
            "/core/v1/domains",
            json={"domain": {"domainName": "busy.com"}},
            auth=(team.slug, team.token),
        )
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "message": "Service Unavailable",
        "details": "The database is busy; retry shortly",
    }


async def test_the_same_write_succeeds_once_the_lock_is_released(
    http: httpx.AsyncClient, team: Team, sqlite_file: Path
) -> None:
    with write_lock_held(sqlite_file):
        refused = await http.post("/api/v1/contacts", json=contact_payload(), headers=team.headers)
    assert refused.status_code == 503
    created = await http.post("/api/v1/contacts", json=contact_payload(), headers=team.headers)
    assert created.status_code == 201, created.text


async def test_a_read_does_not_wait_on_another_connections_write_lock_to_record_last_used(
    busy_app: FastAPI, http: httpx.AsyncClient, team: Team, sqlite_file: Path
) -> None:
    assert await last_used_at(busy_app, team) is None  # stale: this read would record it
    with write_lock_held(sqlite_file):
        started = time.monotonic()
        response = await http.get("/api/v1/contacts", headers=team.headers)
        elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert elapsed < BUSY_TIMEOUT_MS / 1000 / 2, elapsed
    assert await last_used_at(busy_app, team) is None  # skipped, not waited for
    assert (await http.get("/api/v1/contacts", headers=team.headers)).status_code == 200
    assert await last_used_at(busy_app, team) is not None  # the next read records it


@pytest.mark.parametrize("path", ["/api/v1/contacts", "/v2/whoami", "/core/v1/domains"])
async def test_a_read_does_not_queue_behind_a_write_in_flight_to_record_last_used(
    busy_app: FastAPI, http: httpx.AsyncClient, team: Team, path: str
) -> None:
    # The one writer connection of this process is taken, as by a slow write request; queueing
    # for it would last until the pool's timeout (two minutes).
    async with busy_app.state.db.writer.connect():
        async with asyncio.timeout(3):
            response = await http.get(
                path,
                headers=team.headers if not path.startswith("/core") else None,
                auth=(team.slug, team.token) if path.startswith("/core") else None,
            )
    assert response.status_code == 200, response.text
    assert await last_used_at(busy_app, team) is None
