"""Tenant isolation: another team's contact does not exist for us, on any endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.conftest import Team, create_contact
from tests.dialects.native.helpers import CONTACTS, contact_url, error_message, list_handles

Call = Callable[[httpx.AsyncClient, Team, str], Awaitable[httpx.Response]]

ENDPOINTS: dict[str, Call] = {
    "get": lambda c, t, h: c.get(contact_url(h), headers=t.headers),
    "update": lambda c, t, h: c.patch(
        contact_url(h), json={"address_city": "Utrecht"}, headers=t.headers
    ),
    "make_default": lambda c, t, h: c.patch(
        contact_url(h), json={"is_default": True}, headers=t.headers
    ),
    "delete": lambda c, t, h: c.delete(contact_url(h), headers=t.headers),
    "history": lambda c, t, h: c.get(f"{contact_url(h)}/history", headers=t.headers),
}


async def their_contact(client: httpx.AsyncClient, other_team: Team) -> str:
    """A contact of the other team that is neither its default nor its last."""
    await create_contact(client, other_team)
    return (await create_contact(client, other_team, email="theirs@example.com"))["handle"]


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_another_teams_contact_is_404(
    client: httpx.AsyncClient, team: Team, other_team: Team, endpoint: str
) -> None:
    await create_contact(client, team)
    handle = await their_contact(client, other_team)
    error_message(await ENDPOINTS[endpoint](client, team, handle), 404)
    # Untouched for its own team.
    got = await client.get(contact_url(handle), headers=other_team.headers)
    assert got.status_code == 200
    theirs = got.json()["data"]
    assert theirs["address_city"] == "Amsterdam"
    assert theirs["is_default"] is False
    history = await client.get(f"{contact_url(handle)}/history", headers=other_team.headers)
    assert [v["action"] for v in history.json()["data"]] == ["create"]


async def test_another_teams_contact_never_appears_in_listings(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    ours = await create_contact(client, team, metadata={"env": "prod"})
    theirs_default = await create_contact(client, other_team, metadata={"env": "prod"})
    theirs = await create_contact(
        client,
        other_team,
        email="theirs@example.com",
        parent_handle=theirs_default["handle"],
        metadata={"env": "prod"},
    )
    assert await list_handles(client, team) == [ours["handle"]]
    assert await list_handles(client, team, query="theirs") == []
    assert await list_handles(client, team, query=theirs["handle"]) == []
    assert await list_handles(client, team, **{"metadata[env]": "prod"}) == [ours["handle"]]
    assert await list_handles(client, team, parent_handle=theirs_default["handle"]) == []
    listing = await client.get(CONTACTS, headers=team.headers)
    assert listing.json()["meta"]["total"] == 1


async def test_another_teams_contact_never_appears_in_list_by_handles(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    ours = await create_contact(client, team)
    theirs = await their_contact(client, other_team)
    response = await client.post(
        f"{CONTACTS}/list", json={"contacts": [theirs, ours["handle"]]}, headers=team.headers
    )
    assert response.status_code == 200, response.text
    assert [c["handle"] for c in response.json()["data"]] == [ours["handle"]]


async def test_another_teams_contact_is_never_an_expanded_parent(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    theirs = await their_contact(client, other_team)
    ours = await create_contact(client, team, parent_handle=theirs)
    got = await client.get(
        contact_url(ours["handle"]), params={"expand[]": "parent"}, headers=team.headers
    )
    assert got.json()["data"]["parent"] is None
