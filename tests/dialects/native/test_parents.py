"""parent_handle: grouping only. Invalid ignored on create, removes on update, no cycles."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Team, contact_payload, create_contact
from tests.dialects.native.helpers import CONTACTS, contact_url, field_errors


async def family(client: httpx.AsyncClient, team: Team, size: int) -> list[dict[str, Any]]:
    """``size`` unrelated contacts."""
    return [await create_contact(client, team, email=f"f{i}@example.com") for i in range(size)]


async def set_parent(
    client: httpx.AsyncClient, team: Team, handle: str, parent: str | None, **params: Any
) -> httpx.Response:
    return await client.patch(
        contact_url(handle), json={"parent_handle": parent}, params=params, headers=team.headers
    )


async def parent_of(client: httpx.AsyncClient, team: Team, handle: str) -> Any:
    response = await client.get(contact_url(handle), headers=team.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]["parent"]


async def test_parent_is_shown_as_its_handle(client: httpx.AsyncClient, team: Team) -> None:
    parent = await create_contact(client, team)
    child = await create_contact(
        client, team, email="child@example.com", parent_handle=parent["handle"]
    )
    assert child["parent"] == parent["handle"]
    assert parent["parent"] is None
    assert await parent_of(client, team, child["handle"]) == parent["handle"]


async def test_expand_parent_embeds_the_parent_on_create(
    client: httpx.AsyncClient, team: Team
) -> None:
    parent = await create_contact(client, team)
    response = await client.post(
        CONTACTS,
        json={**contact_payload(email="child@example.com"), "parent_handle": parent["handle"]},
        params={"expand[]": "parent"},
        headers=team.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["parent"] == parent


async def test_expand_parent_embeds_the_parent_on_get_and_update(
    client: httpx.AsyncClient, team: Team
) -> None:
    grandparent, parent = await family(client, team, 2)
    assert (await set_parent(client, team, parent["handle"], grandparent["handle"])).is_success
    child = await create_contact(
        client, team, email="child@example.com", parent_handle=parent["handle"]
    )
    got = await client.get(
        contact_url(child["handle"]), params={"expand[]": "parent"}, headers=team.headers
    )
    embedded = got.json()["data"]["parent"]
    assert embedded["handle"] == parent["handle"]
    assert embedded["email"] == parent["email"]
    # One level only: the parent's own parent stays a handle.
    assert embedded["parent"] == grandparent["handle"]

    patched = await client.patch(
        contact_url(child["handle"]),
        json={"address_city": "Utrecht"},
        params={"expand[]": "parent"},
        headers=team.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["parent"] == embedded


async def test_expand_without_parent_shows_null(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team)
    got = await client.get(
        contact_url(contact["handle"]), params={"expand[]": "parent"}, headers=team.headers
    )
    assert got.json()["data"]["parent"] is None


@pytest.mark.parametrize("parent_handle", ["nosuchhandle", "", None])
async def test_invalid_parent_handle_is_ignored_on_create(
    client: httpx.AsyncClient, team: Team, parent_handle: str | None
) -> None:
    await create_contact(client, team)
    response = await client.post(
        CONTACTS,
        json={**contact_payload(email="child@example.com"), "parent_handle": parent_handle},
        headers=team.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["parent"] is None


async def test_other_teams_handle_is_ignored_as_parent_on_create(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    theirs = await create_contact(client, other_team)
    response = await client.post(
        CONTACTS,
        json={**contact_payload(email="child@example.com"), "parent_handle": theirs["handle"]},
        headers=team.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["parent"] is None


async def test_update_sets_and_changes_the_parent(client: httpx.AsyncClient, team: Team) -> None:
    first, second, child = await family(client, team, 3)
    response = await set_parent(client, team, child["handle"], first["handle"])
    assert response.status_code == 200, response.text
    assert response.json()["data"]["parent"] == first["handle"]
    response = await set_parent(client, team, child["handle"], second["handle"])
    assert response.json()["data"]["parent"] == second["handle"]
    assert await parent_of(client, team, child["handle"]) == second["handle"]


@pytest.mark.parametrize("parent_handle", ["nosuchhandle", "", "   ", None])
async def test_invalid_or_empty_parent_handle_removes_the_parent_on_update(
    client: httpx.AsyncClient, team: Team, parent_handle: str | None
) -> None:
    parent, child = await family(client, team, 2)
    await set_parent(client, team, child["handle"], parent["handle"])
    response = await set_parent(client, team, child["handle"], parent_handle)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["parent"] is None
    assert await parent_of(client, team, child["handle"]) is None


async def test_other_teams_handle_removes_the_parent_on_update(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    theirs = await create_contact(client, other_team)
    parent, child = await family(client, team, 2)
    await set_parent(client, team, child["handle"], parent["handle"])
    response = await set_parent(client, team, child["handle"], theirs["handle"])
    assert response.status_code == 200, response.text
    assert response.json()["data"]["parent"] is None


async def test_update_without_parent_handle_keeps_the_parent(
    client: httpx.AsyncClient, team: Team
) -> None:
    parent, child = await family(client, team, 2)
    await set_parent(client, team, child["handle"], parent["handle"])
    response = await client.patch(
        contact_url(child["handle"]), json={"address_city": "Utrecht"}, headers=team.headers
    )
    assert response.json()["data"]["parent"] == parent["handle"]


async def test_parent_cycle_is_refused(client: httpx.AsyncClient, team: Team) -> None:
    a, b = await family(client, team, 2)
    assert (await set_parent(client, team, b["handle"], a["handle"])).status_code == 200
    response = await set_parent(client, team, a["handle"], b["handle"])
    assert list(field_errors(response)) == ["parent_handle"]
    assert await parent_of(client, team, a["handle"]) is None
    assert await parent_of(client, team, b["handle"]) == a["handle"]


async def test_longer_parent_cycle_is_refused(client: httpx.AsyncClient, team: Team) -> None:
    a, b, c = await family(client, team, 3)
    await set_parent(client, team, b["handle"], a["handle"])
    await set_parent(client, team, c["handle"], b["handle"])
    response = await set_parent(client, team, a["handle"], c["handle"])
    assert list(field_errors(response)) == ["parent_handle"]
    assert await parent_of(client, team, a["handle"]) is None


async def test_contact_cannot_be_its_own_parent(client: httpx.AsyncClient, team: Team) -> None:
    (a,) = await family(client, team, 1)
    response = await set_parent(client, team, a["handle"], a["handle"])
    assert list(field_errors(response)) == ["parent_handle"]


async def test_deleting_a_parent_detaches_its_children(
    client: httpx.AsyncClient, team: Team
) -> None:
    _default, parent, first, second = await family(client, team, 4)
    for child in (first, second):
        await set_parent(client, team, child["handle"], parent["handle"])
    response = await client.delete(contact_url(parent["handle"]), headers=team.headers)
    assert response.status_code == 204, response.text
    for child in (first, second):
        assert await parent_of(client, team, child["handle"]) is None
    listing = await client.get(
        CONTACTS, params={"parent_handle": parent["handle"]}, headers=team.headers
    )
    assert listing.json()["data"] == []
