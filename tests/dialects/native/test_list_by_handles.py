"""POST /api/v1/contacts/list: up to 100 handles, answered in request order."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Team, create_contact
from tests.dialects.native.helpers import CONTACTS, contact_url, field_errors

LIST = f"{CONTACTS}/list"


async def by_handles(
    client: httpx.AsyncClient, team: Team, body: dict[str, Any]
) -> list[dict[str, Any]]:
    response = await client.post(LIST, json=body, headers=team.headers)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"data"}
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def three(client: httpx.AsyncClient, team: Team) -> list[str]:
    return [
        (await create_contact(client, team, email=f"l{i}@example.com"))["handle"] for i in range(3)
    ]


async def test_contacts_come_back_in_request_order(client: httpx.AsyncClient, team: Team) -> None:
    a, b, c = await three(client, team)
    for order in ([c, a, b], [b, c, a], [a]):
        found = await by_handles(client, team, {"contacts": order})
        assert [contact["handle"] for contact in found] == order


async def test_listed_contacts_are_whole(client: httpx.AsyncClient, team: Team) -> None:
    a, _, _ = await three(client, team)
    (found,) = await by_handles(client, team, {"contacts": [a]})
    got = await client.get(contact_url(a), headers=team.headers)
    assert found == got.json()["data"]


async def test_unknown_and_other_team_handles_are_left_out(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    a, b, _ = await three(client, team)
    theirs = await create_contact(client, other_team)
    found = await by_handles(
        client, team, {"contacts": ["nosuchhandle", b, theirs["handle"], a, ""]}
    )
    assert [contact["handle"] for contact in found] == [b, a]


async def test_repeated_handle_is_answered_once(client: httpx.AsyncClient, team: Team) -> None:
    a, b, _ = await three(client, team)
    found = await by_handles(client, team, {"contacts": [a, b, a]})
    assert [contact["handle"] for contact in found] == [a, b]


async def test_empty_list_answers_no_contacts(client: httpx.AsyncClient, team: Team) -> None:
    await three(client, team)
    assert await by_handles(client, team, {"contacts": []}) == []


async def test_one_hundred_handles_are_accepted(client: httpx.AsyncClient, team: Team) -> None:
    a, b, _ = await three(client, team)
    handles = [a, *[f"unknown{i}" for i in range(98)], b]
    found = await by_handles(client, team, {"contacts": handles})
    assert [contact["handle"] for contact in found] == [a, b]


async def test_more_than_one_hundred_handles_are_refused(
    client: httpx.AsyncClient, team: Team
) -> None:
    handles = [f"unknown{i}" for i in range(101)]
    response = await client.post(LIST, json={"contacts": handles}, headers=team.headers)
    assert list(field_errors(response)) == ["contacts"]


async def test_contacts_field_is_required(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.post(LIST, json={"expand": ["parent"]}, headers=team.headers)
    assert list(field_errors(response)) == ["contacts"]


async def test_list_expands_the_parent(client: httpx.AsyncClient, team: Team) -> None:
    parent = await create_contact(client, team)
    child = await create_contact(
        client, team, email="child@example.com", parent_handle=parent["handle"]
    )
    plain = await by_handles(client, team, {"contacts": [child["handle"]]})
    assert plain[0]["parent"] == parent["handle"]
    expanded = await by_handles(
        client, team, {"contacts": [child["handle"], parent["handle"]], "expand": ["parent"]}
    )
    assert expanded[0]["parent"] == parent
    assert expanded[1]["parent"] is None
