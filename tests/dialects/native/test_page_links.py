"""Native page links never carry the client's Host header: they are built on
NICHANDLE_PUBLIC_URL when it is set, and are relative (``/api/v1/...?page=2``) when it is not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from nichandle.app import create_app
from nichandle.settings import Settings
from tests.conftest import Team, create_contact

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

SPOOFED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
PUBLIC_URL = "https://api.registrar.example/nichandle"


def all_links(body: dict[str, Any]) -> list[str]:
    links: dict[str, str | None] = body["links"]
    assert set(links) == {"first", "last", "prev", "next"}
    return [link for link in links.values() if link is not None]


async def list_pages(client: httpx.AsyncClient, team: Team) -> dict[str, dict[str, Any]]:
    """Page 2 of every native list (so all four links are present where there are three pages)."""
    first = await create_contact(client, team)
    await create_contact(client, team, email="second@example.com")
    await create_contact(client, team, email="third@example.com")
    for name in ("a.test", "b.test", "c.test"):
        await client.post("/api/v1/domains", json={"name": name}, headers=team.headers)
        await client.post("/api/v1/certificates", json={"common_name": name}, headers=team.headers)
    for label in ("one", "two"):
        await client.patch(
            f"/api/v1/contacts/{first['handle']}", json={"label": label}, headers=team.headers
        )
    paths = {
        "contacts": "/api/v1/contacts",
        "history": f"/api/v1/contacts/{first['handle']}/history",
        "domains": "/api/v1/domains",
        "certificates": "/api/v1/certificates",
    }
    pages = {}
    for name, path in paths.items():
        response = await client.get(
            path,
            params={"page": 2, "per_page": 1},
            headers={**team.headers, **SPOOFED},
        )
        assert response.status_code == 200, response.text
        assert response.json()["meta"]["last_page"] == 3, name
        pages[path] = response.json()
    return pages


async def test_without_a_public_url_links_are_relative_and_ignore_the_host_header(
    client: httpx.AsyncClient, team: Team
) -> None:
    for path, body in (await list_pages(client, team)).items():
        links = all_links(body)
        assert len(links) == 4
        assert "evil.example" not in str(body["links"])
        for link in links:
            assert link.startswith(f"{path}?"), link
            assert httpx.URL(link).params["per_page"] == "1"
        assert body["links"]["next"] == f"{path}?page=3&per_page=1"


@pytest.fixture
async def public_client(
    database_url: TestDatabase, app: FastAPI
) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same (migrated) database, configured with a public URL."""
    public_app = create_app(Settings(database_url=database_url.url, public_url=f"{PUBLIC_URL}/"))
    transport = httpx.ASGITransport(app=public_app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as http:
            yield http
    finally:
        await public_app.state.db.dispose()


async def test_with_a_public_url_links_are_built_on_it(
    public_client: httpx.AsyncClient, team: Team
) -> None:
    for path, body in (await list_pages(public_client, team)).items():
        links = all_links(body)
        assert len(links) == 4
        assert "evil.example" not in str(body["links"])
        for link in links:
            # Scheme, host and the proxy's path prefix from the setting, path from the request.
            assert link.startswith(f"{PUBLIC_URL}{path}?"), link


@pytest.mark.parametrize(
    "value", ["api.example.com", "ftp://api.example.com", "https://", "https://x.example/?a=1"]
)
def test_a_public_url_that_is_no_absolute_http_url_is_refused_at_start(value: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        Settings(public_url=value)


def test_an_empty_public_url_means_unset() -> None:
    assert Settings(public_url="").public_url is None
    assert Settings(public_url="http://h.example:8080/").public_url == "http://h.example:8080"
