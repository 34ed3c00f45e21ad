"""Inputs no database could store or a naive path would trip on: never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from tests.conftest import Team, contact_payload, create_contact


async def test_nul_bytes_in_the_url_are_a_400(client: httpx.AsyncClient, team: Team) -> None:
    await create_contact(client, team)
    for url in (
        "/api/v1/contacts/a%00b",
        "/api/v1/contacts/a%00b/history",
        "/api/v1/contacts?query=x%00",
        "/api/v1/contacts?parent_handle=x%00",
        "/api/v1/contacts?metadata[a]=x%00",
        "/api/v1/domains/a%00.com",
    ):
        response = await client.get(url, headers=team.headers)
        assert response.status_code == 400, url
        assert "NUL" in response.json()["message"]


async def test_nul_bytes_in_handles_of_a_body_match_nothing(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team)
    listed = await client.post(
        "/api/v1/contacts/list",
        json={"contacts": ["a\u0000", contact["handle"]]},
        headers=team.headers,
    )
    assert [c["handle"] for c in listed.json()["data"]] == [contact["handle"]]
    child = await client.post(
        "/api/v1/contacts",
        json=contact_payload(email="child@example.com", parent_handle="a\u0000b"),
        headers=team.headers,
    )
    assert child.status_code == 201
    assert child.json()["data"]["parent"] is None


async def test_metadata_filter_keys_with_quotes_and_non_ascii_match(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team, metadata={'a"b': "quoted", "ключ": "значение"})
    for key, value in (('a"b', "quoted"), ("ключ", "значение")):
        response = await client.get(
            "/api/v1/contacts", params={f"metadata[{key}]": value}, headers=team.headers
        )
        assert response.status_code == 200, response.text
        assert [c["handle"] for c in response.json()["data"]] == [contact["handle"]]


async def test_streamed_body_over_the_limit_is_a_413(client: httpx.AsyncClient, team: Team) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"label": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    response = await client.post(
        "/api/v1/contacts",
        content=chunks(),
        headers={**team.headers, "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "larger than" in response.json()["message"]


async def test_deleting_the_only_contact_says_it_is_the_last(
    client: httpx.AsyncClient, team: Team
) -> None:
    only = await create_contact(client, team)
    response = await client.delete(f"/api/v1/contacts/{only['handle']}", headers=team.headers)
    assert response.status_code == 409
    assert "last contact" in response.json()["message"]


async def test_huge_page_numbers_are_a_422_on_every_listing(
    client: httpx.AsyncClient, team: Team
) -> None:
    for path in ("/api/v1/contacts", "/api/v1/domains", "/api/v1/certificates"):
        response = await client.get(path, params={"page": 10**20}, headers=team.headers)
        assert response.status_code == 422, path
        assert "page" in response.json()["errors"]
