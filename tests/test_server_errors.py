"""Unexpected failures answer in each dialect's JSON envelope, never as plain text.

A real failure, not a mock: an app over a database that was never migrated fails on its first
query (authentication), as a server does whose database lost its schema.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from nichandle.app import create_app
from nichandle.settings import Settings


@pytest.fixture
async def broken_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unmigrated.db'}"))
    # The 500 response, not the exception the app re-raises for the server to log.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.db.dispose()


async def test_native_failures_are_json_500s(broken_client: httpx.AsyncClient) -> None:
    response = await broken_client.get("/api/v1/contacts", headers={"Authorization": "Bearer nh_x"})
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}


async def test_dnsimple_failures_are_json_500s_with_rate_limit_headers(
    broken_client: httpx.AsyncClient,
) -> None:
    response = await broken_client.get("/v2/1/contacts", headers={"Authorization": "Bearer x"})
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}
    for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        assert response.headers[header].isdigit()


async def test_namecom_failures_are_json_500s(broken_client: httpx.AsyncClient) -> None:
    response = await broken_client.get("/core/v1/domains", auth=("team", "nh_x"))
    assert response.status_code == 500
    body = response.json()
    assert body["message"] == "Internal Server Error"
    assert "sqlite" not in response.text.lower()
