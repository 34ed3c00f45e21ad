"""Fresh, empty databases: the session's (conftest) and per-test ones for tests that own their
schema or hand the database to another process (migrations, the CLI, a live server).

Outside CI the PostgreSQL half skips with a message when no server answers; with CI=true it
fails instead, so CI can never pass without it."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "NICHANDLE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


async def _postgres_admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: the PostgreSQL half of the suite must run)")
        pytest.skip(message)


@dataclass
class TestDatabase:
    backend: str
    url: str


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@asynccontextmanager
async def fresh_database(backend: str, directory: Path) -> AsyncIterator[TestDatabase]:
    """A new SQLite file in ``directory``, or a new PostgreSQL database dropped afterwards."""
    if backend == "sqlite":
        yield TestDatabase("sqlite", f"sqlite:///{directory / 'fresh.db'}")
        return
    name = f"nichandle_fresh_{secrets.token_hex(4)}"
    admin = await _postgres_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield TestDatabase("postgresql", f"{base}/{name}")
    finally:
        admin = await _postgres_admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
