"""Native /api/v1/contacts: create, read, update, delete, through HTTP."""

from __future__ import annotations

import httpx

from tests.conftest import Team, contact_payload, create_contact


async def test_create_returns_201_with_normalised_contact(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.post(
        "/api/v1/contacts",
        json=contact_payload(
            email="  Jan@Example.COM ", phone="020 123 4567", address_country_code="nl"
        ),
        headers=team.headers,
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["email"] == "Jan@example.com"
    assert data["phone"] == "+31201234567"
    assert data["address_country_code"] == "NL"
    assert 3 <= len(data["handle"]) <= 16
    assert data["created_at"] == data["updated_at"]


async def test_identical_contact_returns_existing_with_200(
    client: httpx.AsyncClient, team: Team
) -> None:
    first = await client.post("/api/v1/contacts", json=contact_payload(), headers=team.headers)
    again = await client.post(
        "/api/v1/contacts",
        json=contact_payload(email="JAN@example.com", phone="+31 20 123 4567", first_name=" jan "),
        headers=team.headers,
    )
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["data"]["handle"] == first.json()["data"]["handle"]


async def test_allow_duplicate_creates_a_second_contact(
    client: httpx.AsyncClient, team: Team
) -> None:
    first = await create_contact(client, team)
    response = await client.post(
        "/api/v1/contacts", json=contact_payload(allow_duplicate=True), headers=team.headers
    )
    assert response.status_code == 201
    assert response.json()["data"]["handle"] != first["handle"]


async def test_get_update_delete_round_trip(client: httpx.AsyncClient, team: Team) -> None:
    await create_contact(client, team)  # the first contact becomes the team default
    contact = await create_contact(client, team, email="other@example.com")
    url = f"/api/v1/contacts/{contact['handle']}"

    got = await client.get(url, headers=team.headers)
    assert got.json()["data"] == contact

    patched = await client.patch(url, json={"address_city": "Utrecht"}, headers=team.headers)
    assert patched.status_code == 200
    assert patched.json()["data"]["address_city"] == "Utrecht"
    assert patched.json()["data"]["email"] == "other@example.com"

    deleted = await client.delete(url, headers=team.headers)
    assert deleted.status_code == 204
    assert (await client.get(url, headers=team.headers)).status_code == 404
