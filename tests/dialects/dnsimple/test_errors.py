"""DNSimple /v2 error rendering: JSON everywhere, as the official client needs it."""

from __future__ import annotations

import httpx

from tests.conftest import Team
from tests.dialects.dnsimple.helpers import (
    assert_rate_limit_headers,
    contact_url,
    contacts_url,
    create,
    fixture_status_and_body,
    message_of,
)


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
