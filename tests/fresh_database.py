"""A fresh, empty database per test (not the session one), for tests that own their schema or
hand the database to another process: migrations, the CLI, a live server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ADMIN_URL, TestDatabase, _postgres_admin

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
