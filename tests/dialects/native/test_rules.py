"""Native contact rules: dedup, partial update, delete protection and the one default contact."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update

from nichandle.contacts.models import Contact
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from tests.conftest import Team, contact_payload, create_contact, us_contact_payload
from tests.dialects.native.helpers import (
    CONTACTS,
    contact_url,
    error_message,
    field_errors,
    list_handles,
)


async def post(client: httpx.AsyncClient, team: Team, body: dict[str, Any]) -> httpx.Response:
    return await client.post(CONTACTS, json=body, headers=team.headers)


async def defaults(client: httpx.AsyncClient, team: Team) -> list[str]:
    response = await client.get(CONTACTS, params={"per_page": 100}, headers=team.headers)
    return [c["handle"] for c in response.json()["data"] if c["is_default"]]


# Dedup


@pytest.mark.parametrize(
    "variant",
    [
        {"email": "JAN@EXAMPLE.COM"},
        {"email": "  jan@example.com  "},
        {"phone": "+31 20 123 4567"},
        {"phone": "020-123 4567"},
        {"first_name": "JAN", "last_name": " jansen "},
        {"address_street": "Damrak  ", "address_city": "AMSTERDAM"},
        {"address_postal_code": "1012lg"},
        {"address_country_code": "nl"},
    ],
)
async def test_identical_details_after_normalisation_return_the_existing_with_200(
    client: httpx.AsyncClient, team: Team, variant: dict[str, str]
) -> None:
    first = await post(client, team, contact_payload())
    assert first.status_code == 201, first.text
    again = await post(client, team, contact_payload(**variant))
    assert again.status_code == 200, again.text
    assert again.json()["data"] == first.json()["data"]
    assert await list_handles(client, team) == [first.json()["data"]["handle"]]


async def test_state_name_and_code_are_the_same_details(
    client: httpx.AsyncClient, team: Team
) -> None:
    first = await post(client, team, us_contact_payload(address_state="NY"))
    assert first.status_code == 201, first.text
    again = await post(client, team, us_contact_payload(address_state="New York"))
    assert again.status_code == 200, again.text
    assert again.json()["data"]["handle"] == first.json()["data"]["handle"]


@pytest.mark.parametrize(
    "variant",
    [
        {"email": "jan2@example.com"},
        {"address_house_number": "2"},
        {"company_name": "Jansen B.V."},
        {"fax": "+31207654321"},
    ],
)
async def test_contact_differing_in_a_detail_is_created_with_201(
    client: httpx.AsyncClient, team: Team, variant: dict[str, str]
) -> None:
    first = await create_contact(client, team)
    response = await post(client, team, contact_payload(**variant))
    assert response.status_code == 201, response.text
    assert response.json()["data"]["handle"] != first["handle"]


async def test_allow_duplicate_creates_a_new_contact_with_201(
    client: httpx.AsyncClient, team: Team
) -> None:
    first = await create_contact(client, team)
    response = await post(client, team, contact_payload(allow_duplicate=True))
    assert response.status_code == 201, response.text
    second = response.json()["data"]
    assert second["handle"] != first["handle"]
    assert "allow_duplicate" not in second
    assert sorted(await list_handles(client, team)) == sorted([first["handle"], second["handle"]])


async def test_allow_duplicate_false_still_deduplicates(
    client: httpx.AsyncClient, team: Team
) -> None:
    first = await create_contact(client, team)
    response = await post(client, team, contact_payload(allow_duplicate=False))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["handle"] == first["handle"]


async def test_identical_contact_of_another_team_is_no_duplicate(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    theirs = await create_contact(client, other_team)
    response = await post(client, team, contact_payload())
    assert response.status_code == 201, response.text
    assert response.json()["data"]["handle"] != theirs["handle"]


# Get, update, delete


async def test_get_returns_the_contact(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team)
    response = await client.get(contact_url(contact["handle"]), headers=team.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == contact


async def test_unknown_handle_is_404_with_a_message(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.get(contact_url("nosuchhandle"), headers=team.headers)
    assert "nosuchhandle" in error_message(response, 404)


async def test_update_changes_only_the_fields_given(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team, job_title="CEO", metadata={"a": "1"})
    response = await client.patch(
        contact_url(contact["handle"]),
        json={"address_street": "Rokin", "address_house_number": "99", "email": "new@example.com"},
        headers=team.headers,
    )
    assert response.status_code == 200, response.text
    updated = response.json()["data"]
    changed = {"address_street", "address_house_number", "email", "updated_at"}
    assert {k: v for k, v in updated.items() if k not in changed} == {
        k: v for k, v in contact.items() if k not in changed
    }
    assert updated["address_street"] == "Rokin"
    assert updated["address_house_number"] == "99"
    assert updated["email"] == "new@example.com"
    assert updated["updated_at"] > contact["updated_at"]
    got = await client.get(contact_url(contact["handle"]), headers=team.headers)
    assert got.json()["data"] == updated


async def test_update_clears_an_optional_field_sent_as_null(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team, job_title="CEO")
    response = await client.patch(
        contact_url(contact["handle"]), json={"job_title": None}, headers=team.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["job_title"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"first_name": "Piet"},
        {"last_name": "Pietersen"},
        {"company_name": "Acme"},
        {"address_country_code": "DE"},
        {"first_name": "Jan"},
    ],
)
async def test_update_refuses_identity_fields(
    client: httpx.AsyncClient, team: Team, body: dict[str, str]
) -> None:
    contact = await create_contact(client, team)
    response = await client.patch(contact_url(contact["handle"]), json=body, headers=team.headers)
    assert list(field_errors(response)) == list(body)
    got = await client.get(contact_url(contact["handle"]), headers=team.headers)
    assert got.json()["data"] == contact


async def test_update_names_every_refused_identity_field(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team)
    body = {
        "first_name": "Piet",
        "last_name": "Pietersen",
        "company_name": "Acme",
        "address_country_code": "DE",
        "address_city": "Utrecht",
    }
    response = await client.patch(contact_url(contact["handle"]), json=body, headers=team.headers)
    assert set(field_errors(response)) == {
        "first_name",
        "last_name",
        "company_name",
        "address_country_code",
    }


async def test_update_of_unknown_handle_is_404(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.patch(
        contact_url("nosuchhandle"), json={"address_city": "Utrecht"}, headers=team.headers
    )
    error_message(response, 404)


async def test_delete_removes_the_contact(client: httpx.AsyncClient, team: Team) -> None:
    default = await create_contact(client, team)
    contact = await create_contact(client, team, email="other@example.com")
    response = await client.delete(contact_url(contact["handle"]), headers=team.headers)
    assert response.status_code == 204
    assert response.content == b""
    gone = await client.get(contact_url(contact["handle"]), headers=team.headers)
    assert gone.status_code == 404
    assert await list_handles(client, team) == [default["handle"]]


async def test_delete_of_unknown_handle_is_404(client: httpx.AsyncClient, team: Team) -> None:
    await create_contact(client, team)
    response = await client.delete(contact_url("nosuchhandle"), headers=team.headers)
    error_message(response, 404)


async def test_deleting_the_team_default_is_refused_with_409(
    client: httpx.AsyncClient, team: Team
) -> None:
    default = await create_contact(client, team)
    await create_contact(client, team, email="other@example.com")
    response = await client.delete(contact_url(default["handle"]), headers=team.headers)
    assert "default" in error_message(response, 409)
    still = await client.get(contact_url(default["handle"]), headers=team.headers)
    assert still.status_code == 200


async def test_deleting_the_only_contact_is_refused_with_409(
    client: httpx.AsyncClient, team: Team
) -> None:
    only = await create_contact(client, team)
    response = await client.delete(contact_url(only["handle"]), headers=team.headers)
    error_message(response, 409)
    assert await list_handles(client, team) == [only["handle"]]


async def test_deleting_the_last_contact_is_refused_with_409_saying_so(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    only = await create_contact(client, team)
    # A team whose only contact is not its default (e.g. data from before the default rule).
    async with unit_of_work(db) as session:
        await session.execute(
            update(Contact).where(Contact.account_id == team.id).values(is_default=False)
        )
    response = await client.delete(contact_url(only["handle"]), headers=team.headers)
    assert "last" in error_message(response, 409)
    assert await list_handles(client, team) == [only["handle"]]


async def test_former_default_can_be_deleted_once_another_is_default(
    client: httpx.AsyncClient, team: Team
) -> None:
    first = await create_contact(client, team)
    second = await create_contact(client, team, email="other@example.com", is_default=True)
    response = await client.delete(contact_url(first["handle"]), headers=team.headers)
    assert response.status_code == 204, response.text
    assert await defaults(client, team) == [second["handle"]]


# The one default contact


async def test_first_contact_becomes_the_team_default(
    client: httpx.AsyncClient, team: Team
) -> None:
    first = await create_contact(client, team)
    second = await create_contact(client, team, email="other@example.com")
    assert first["is_default"] is True
    assert second["is_default"] is False
    assert await defaults(client, team) == [first["handle"]]


async def test_first_contact_is_default_even_when_asked_not_to_be(
    client: httpx.AsyncClient, team: Team
) -> None:
    first = await create_contact(client, team, is_default=False)
    assert first["is_default"] is True


async def test_creating_a_default_contact_switches_the_default(
    client: httpx.AsyncClient, team: Team
) -> None:
    first = await create_contact(client, team)
    second = await create_contact(client, team, email="other@example.com", is_default=True)
    assert second["is_default"] is True
    assert await defaults(client, team) == [second["handle"]]
    old = await client.get(contact_url(first["handle"]), headers=team.headers)
    assert old.json()["data"]["is_default"] is False


async def test_updating_is_default_to_true_switches_the_default(
    client: httpx.AsyncClient, team: Team
) -> None:
    first = await create_contact(client, team)
    second = await create_contact(client, team, email="other@example.com")
    third = await create_contact(client, team, email="third@example.com")
    response = await client.patch(
        contact_url(third["handle"]), json={"is_default": True}, headers=team.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["is_default"] is True
    assert await defaults(client, team) == [third["handle"]]
    for other in (first, second):
        got = await client.get(contact_url(other["handle"]), headers=team.headers)
        assert got.json()["data"]["is_default"] is False


async def test_updating_the_default_to_default_again_keeps_it(
    client: httpx.AsyncClient, team: Team
) -> None:
    first = await create_contact(client, team)
    await create_contact(client, team, email="other@example.com")
    response = await client.patch(
        contact_url(first["handle"]), json={"is_default": True}, headers=team.headers
    )
    assert response.status_code == 200, response.text
    assert await defaults(client, team) == [first["handle"]]


@pytest.mark.parametrize("which", ["default", "other"])
async def test_updating_is_default_to_false_is_refused(
    client: httpx.AsyncClient, team: Team, which: str
) -> None:
    first = await create_contact(client, team)
    second = await create_contact(client, team, email="other@example.com")
    target = first if which == "default" else second
    response = await client.patch(
        contact_url(target["handle"]), json={"is_default": False}, headers=team.headers
    )
    assert list(field_errors(response)) == ["is_default"]
    assert await defaults(client, team) == [first["handle"]]


async def test_default_switches_leave_exactly_one_default(
    client: httpx.AsyncClient, team: Team
) -> None:
    handles = [
        (await create_contact(client, team, email=f"p{i}@example.com", is_default=True))["handle"]
        for i in range(4)
    ]
    for handle in (handles[1], handles[0], handles[2]):
        response = await client.patch(
            contact_url(handle), json={"is_default": True}, headers=team.headers
        )
        assert response.status_code == 200, response.text
        assert await defaults(client, team) == [handle]


async def test_each_team_has_its_own_default(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    ours = await create_contact(client, team)
    theirs = await create_contact(client, other_team)
    await create_contact(client, team, email="other@example.com", is_default=True)
    assert theirs["is_default"] is True
    assert await defaults(client, other_team) == [theirs["handle"]]
    assert ours["handle"] not in await defaults(client, team)
