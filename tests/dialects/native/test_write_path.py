"""The one write path, seen through the native API: a default moving is a change of both
contacts, the fan-out names every domain a change reaches, and what uses a contact is bounded."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.domains.service import USAGE_LIMIT
from nichandle.events.models import OutboxEvent
from tests.conftest import Team, create_contact
from tests.dialects.native.helpers import contact_url


async def events(db: Database, team: Team, name: str) -> list[dict[str, Any]]:
    async with unit_of_work(db, write=False) as session:
        query = (
            select(OutboxEvent.payload)
            .where(OutboxEvent.account_id == team.id, OutboxEvent.type == name)
            .order_by(OutboxEvent.id)
        )
        return list(await session.scalars(query))


async def versions(client: httpx.AsyncClient, team: Team, handle: str) -> list[dict[str, Any]]:
    response = await client.get(f"{contact_url(handle)}/history", headers=team.headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_a_default_moving_is_a_change_of_both_contacts(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    first = await create_contact(client, team, email="first@example.com")
    second = await create_contact(client, team, email="second@example.com")
    assert first["is_default"]
    assert not second["is_default"]
    response = await client.patch(
        contact_url(second["handle"]), json={"is_default": True}, headers=team.headers
    )
    assert response.status_code == 200, response.text

    lost = (await versions(client, team, first["handle"]))[-1]
    assert lost["action"] == "update"
    assert lost["before"]["is_default"] is True
    assert lost["after"]["is_default"] is False
    gained = (await versions(client, team, second["handle"]))[-1]
    assert gained["before"]["is_default"] is False
    assert gained["after"]["is_default"] is True
    updates = await events(db, team, "contact.updated")
    assert [(u["before"]["handle"], u["contact"]["is_default"]) for u in updates] == [
        (first["handle"], False),
        (second["handle"], True),
    ]


async def test_a_new_default_announces_the_domains_that_fall_back_to_it(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    await create_contact(client, team, email="old@example.com")
    owner = await create_contact(client, team, email="owner@example.com")
    response = await client.post(
        "/api/v1/domains",
        json={"name": "fallback-example.com", "contacts": {"owner": owner["handle"]}},
        headers=team.headers,
    )
    assert response.status_code == 201, response.text
    new_default = await create_contact(client, team, email="new@example.com", is_default=True)

    fanned = [
        (e["domain"], e["roles"])
        for e in await events(db, team, "domain.contacts_changed")
        if e.get("contact") == new_default["handle"]
    ]
    # The registrant is the owner's; the three roles left unset now resolve to the new default.
    assert fanned == [("fallback-example.com", ["admin", "tech", "billing"])]


async def test_expanded_domains_are_bounded_with_a_link_to_the_rest(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team, email="busy@example.com")
    for n in range(USAGE_LIMIT + 1):
        response = await client.post(
            "/api/v1/domains", json={"name": f"busy-{n:03}.com"}, headers=team.headers
        )
        assert response.status_code == 201, response.text
    response = await client.get(
        contact_url(contact["handle"]), params={"expand[]": "domains"}, headers=team.headers
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert len(data["domains"]) == USAGE_LIMIT
    assert data["domains"][0] == {
        "name": "busy-000.com",
        "roles": ["owner", "admin", "tech", "billing"],
    }
    link = data["more_domains"]
    assert link == f"/api/v1/domains?contact={contact['handle']}"
    listed = await client.get(link, params={"per_page": 100, "page": 2}, headers=team.headers)
    assert listed.json()["meta"]["total"] == USAGE_LIMIT + 1

    few = await create_contact(client, team, email="few@example.com")
    response = await client.get(
        contact_url(few["handle"]), params={"expand[]": "domains"}, headers=team.headers
    )
    assert response.json()["data"]["domains"] == []
    assert "more_domains" not in response.json()["data"]
