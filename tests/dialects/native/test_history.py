"""GET /api/v1/contacts/{handle}/history: every version, kept after the contact is deleted."""

from __future__ import annotations

from typing import Any

import httpx

from nichandle.db.engine import Database
from tests.conftest import Team, create_contact
from tests.dialects.native.helpers import contact_url, error_message, team_token


def history_url(handle: str) -> str:
    return f"{contact_url(handle)}/history"


async def versions(client: httpx.AsyncClient, team: Team, handle: str) -> list[dict[str, Any]]:
    response = await client.get(history_url(handle), headers=team.headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_create_is_the_first_version(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    contact = await create_contact(client, team, metadata={"a": "1"})
    (version,) = await versions(client, team, contact["handle"])
    token = await team_token(db, team)
    assert version["action"] == "create"
    assert version["dialect"] == "native"
    assert version["actor_token_id"] == token.id
    assert version["before"] is None
    after = version["after"]
    assert after["handle"] == contact["handle"]
    assert after["email"] == contact["email"]
    assert after["phone"] == contact["phone"]
    assert after["metadata"] == {"a": "1"}
    assert after["is_default"] is True
    assert isinstance(version["id"], int)
    assert version["created_at"]


async def test_update_records_before_and_after(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team)
    await client.patch(
        contact_url(contact["handle"]),
        json={"address_city": "Utrecht", "phone": "030 123 4567"},
        headers=team.headers,
    )
    created, updated = await versions(client, team, contact["handle"])
    assert updated["action"] == "update"
    assert updated["dialect"] == "native"
    assert updated["before"] == created["after"]
    assert updated["before"]["address_city"] == "Amsterdam"
    assert updated["after"]["address_city"] == "Utrecht"
    assert updated["after"]["phone"] == "+31301234567"
    assert updated["id"] > created["id"]


async def test_update_that_changes_nothing_adds_no_version(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team)
    response = await client.patch(
        contact_url(contact["handle"]),
        json={"address_city": contact["address_city"]},
        headers=team.headers,
    )
    assert response.status_code == 200, response.text
    assert [v["action"] for v in await versions(client, team, contact["handle"])] == ["create"]


async def test_history_stays_readable_after_delete(client: httpx.AsyncClient, team: Team) -> None:
    await create_contact(client, team)
    contact = await create_contact(client, team, email="other@example.com")
    await client.patch(
        contact_url(contact["handle"]), json={"address_city": "Utrecht"}, headers=team.headers
    )
    deleted = await client.delete(contact_url(contact["handle"]), headers=team.headers)
    assert deleted.status_code == 204
    history = await versions(client, team, contact["handle"])
    assert [v["action"] for v in history] == ["create", "update", "delete"]
    assert history[2]["before"] == history[1]["after"]
    assert history[2]["after"] is None
    assert history[2]["dialect"] == "native"


async def test_versions_record_the_token_that_acted(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    contact = await create_contact(client, team)
    await client.patch(
        contact_url(contact["handle"]), json={"address_city": "Utrecht"}, headers=team.headers
    )
    token = await team_token(db, team)
    history = await versions(client, team, contact["handle"])
    assert [v["actor_token_id"] for v in history] == [token.id, token.id]


async def test_detaching_children_is_recorded_in_their_history(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create_contact(client, team)
    parent = await create_contact(client, team, email="parent@example.com")
    child = await create_contact(
        client, team, email="child@example.com", parent_handle=parent["handle"]
    )
    await client.delete(contact_url(parent["handle"]), headers=team.headers)
    history = await versions(client, team, child["handle"])
    assert [v["action"] for v in history] == ["create", "update"]
    assert history[1]["before"]["parent_handle"] == parent["handle"]
    assert history[1]["after"]["parent_handle"] is None


async def test_history_is_paged(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team)
    for city in ("Utrecht", "Leiden", "Delft"):
        await client.patch(
            contact_url(contact["handle"]), json={"address_city": city}, headers=team.headers
        )
    response = await client.get(
        history_url(contact["handle"]), params={"page": 2, "per_page": 3}, headers=team.headers
    )
    body = response.json()
    assert body["meta"] == {"current_page": 2, "last_page": 2, "per_page": 3, "total": 4}
    assert [v["after"]["address_city"] for v in body["data"]] == ["Delft"]
    assert body["links"]["next"] is None
    assert body["links"]["prev"] is not None


async def test_history_of_unknown_handle_is_404(client: httpx.AsyncClient, team: Team) -> None:
    await create_contact(client, team)
    response = await client.get(history_url("nosuchhandle"), headers=team.headers)
    error_message(response, 404)
