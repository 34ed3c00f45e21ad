"""DNSimple /v2 error rendering: JSON everywhere, as the official client needs it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from nichandle.contacts import service as contacts_service
from tests.conftest import Team
from tests.dialects.dnsimple.helpers import (
    assert_rate_limit_headers,
    contact_url,
    contacts_url,
    create,
    fixture_status_and_body,
    message_of,
)


@pytest.fixture
async def lenient_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that gets the 500 response instead of the app's exception."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_deleting_the_default_contact_is_a_400_with_its_reason(
    client: httpx.AsyncClient, team: Team
) -> None:
    default = await create(client, team)
    await create(client, team, label="second")
    response = await client.delete(contact_url(team, default["id"]), headers=team.headers)
    assert "default contact" in message_of(response, 400)
    assert (await client.get(contact_url(team, default["id"]), headers=team.headers)).is_success


async def test_method_not_allowed_is_an_empty_405_like_the_fixture(
    client: httpx.AsyncClient, team: Team
) -> None:
    status, body = fixture_status_and_body("method-not-allowed.http")
    response = await client.put(contacts_url(team), json={}, headers=team.headers)
    assert response.status_code == status == 405
    assert body is None
    assert response.content == b""
    assert "GET" in response.headers["allow"]
    assert_rate_limit_headers(response)


async def test_unknown_paths_under_v2_are_json_404s(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.get("/v2/nothing/here/at/all", headers=team.headers)
    assert message_of(response, 404) == "Not Found"
    assert_rate_limit_headers(response)


async def test_a_body_over_the_limit_is_a_json_413(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.post(
        contacts_url(team),
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={**team.headers, "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["message"]
    assert_rate_limit_headers(response)


async def test_unexpected_failures_are_json_500s_with_rate_limit_headers(
    lenient_client: httpx.AsyncClient, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await create(lenient_client, team)

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(contacts_service, "get_contact_by_id_text", broken)
    response = await lenient_client.get(contact_url(team, created["id"]), headers=team.headers)
    assert message_of(response, 500) == "Internal server error"
    assert response.headers["content-type"] == "application/json"
    assert "fire" not in response.text
    assert_rate_limit_headers(response)


async def test_no_error_under_v2_uses_fastapis_detail_envelope(
    client: httpx.AsyncClient, team: Team
) -> None:
    responses = [
        await client.post(contacts_url(team), content=b"[", headers=team.headers),
        await client.get(contacts_url(team), params={"page": "x"}, headers=team.headers),
        await client.get(
            f"/v2/{team.id}/domains", params={"registrant_id": "x"}, headers=team.headers
        ),
        await client.get("/v2/whoami"),
        await client.get(contact_url(team, "x"), headers=team.headers),
    ]
    for response in responses:
        assert response.status_code in (400, 401, 404), response.text
        assert "detail" not in response.json()
        assert "message" in response.json()
