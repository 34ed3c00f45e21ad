"""DNSimple /v2 contacts: the fixtures' shapes, the field mapping, create/get/update/delete."""

from __future__ import annotations

import re

import httpx

from tests.conftest import Team, create_contact, us_contact_payload
from tests.dialects.dnsimple.helpers import (
    assert_same_shape,
    contact_body,
    contact_url,
    contacts_url,
    create,
    fixture_body,
    fixture_status_and_body,
    message_of,
)

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


async def test_create_answers_201_with_the_fixture_shape_and_values(
    client: httpx.AsyncClient, team: Team
) -> None:
    status, fixture = fixture_status_and_body("createContact/created.http")
    response = await client.post(contacts_url(team), json=contact_body(), headers=team.headers)
    assert response.status_code == status == 201
    body = response.json()
    assert_same_shape(body, fixture)
    expected = {k: v for k, v in fixture["data"].items() if k not in ("id", "account_id")}
    expected.pop("created_at")
    expected.pop("updated_at")
    assert {k: body["data"][k] for k in expected} == expected
    assert body["data"]["account_id"] == team.id
    assert TIMESTAMP.match(body["data"]["created_at"])
    assert TIMESTAMP.match(body["data"]["updated_at"])


async def test_get_update_and_list_match_their_fixtures(
    client: httpx.AsyncClient, team: Team
) -> None:
    created = await create(client, team)
    url = contact_url(team, created["id"])

    got = await client.get(url, headers=team.headers)
    assert got.status_code == 200
    assert_same_shape(got.json(), fixture_body("getContact/success.http"))
    assert got.json()["data"] == created

    updated = await client.patch(url, json={"label": "Renamed"}, headers=team.headers)
    status, fixture = fixture_status_and_body("updateContact/success.http")
    assert updated.status_code == status
    assert_same_shape(updated.json(), fixture)

    await create(client, team, label=..., job_title=..., organization_name=..., fax=...)
    listed = await client.get(contacts_url(team), headers=team.headers)
    assert listed.status_code == 200
    assert_same_shape(listed.json(), fixture_body("listContacts/success.http"))
    assert listed.json()["pagination"] == {
        "current_page": 1,
        "per_page": 30,
        "total_entries": 2,
        "total_pages": 1,
    }


async def test_unset_optional_fields_read_as_empty_strings(
    client: httpx.AsyncClient, team: Team
) -> None:
    data = await create(
        client, team, label=..., job_title=..., organization_name=..., fax=..., address2=None
    )
    for field in ("label", "job_title", "organization_name", "fax", "address2"):
        assert data[field] == "", field
    # As the second contact of the listContacts fixture shows them.
    second = fixture_body("listContacts/success.http")["data"][1]
    assert all(second[f] == "" for f in ("label", "job_title", "organization_name", "fax"))


async def test_ids_are_integers_and_timestamps_whole_utc_seconds(
    client: httpx.AsyncClient, team: Team
) -> None:
    data = await create(client, team)
    assert type(data["id"]) is int
    assert type(data["account_id"]) is int
    assert TIMESTAMP.match(data["created_at"])


async def test_fields_map_onto_the_core_and_show_in_the_native_dialect(
    client: httpx.AsyncClient, team: Team
) -> None:
    data = await create(client, team, address2="Scala B")
    handles = await client.get("/api/v1/contacts", headers=team.headers)
    (native,) = handles.json()["data"]
    assert native["company_name"] == data["organization_name"] == "Awesome Company"
    assert native["address_line2"] == "Scala B"
    assert native["address_city"] == "Roma"
    assert native["address_state"] == "RM"
    assert native["address_postal_code"] == "00100"
    assert native["address_country_code"] == "IT"
    assert native["job_title"] == "CEO"
    assert native["label"] == "Default"
    # address1 is stored as the street, with no house number, so it reads back as written.
    assert native["address_street"] == "Italian Street, 10"
    assert native["address_house_number"] is None


async def test_native_contacts_read_with_address1_composed_in_the_countrys_order(
    client: httpx.AsyncClient, team: Team
) -> None:
    dutch = await create_contact(client, team)
    american = await create_contact(client, team, **us_contact_payload())
    response = await client.get(contacts_url(team), headers=team.headers)
    by_email = {c["email"]: c for c in response.json()["data"]}
    assert by_email[dutch["email"]]["address1"] == "Damrak 1"
    assert by_email[american["email"]]["address1"] == "123 Main Street"
    nl = by_email[dutch["email"]]
    assert (nl["city"], nl["postal_code"], nl["country"]) == ("Amsterdam", "1012 LG", "NL")
    assert nl["state_province"] == ""
    assert nl["organization_name"] == ""


async def test_contacts_created_here_are_visible_natively_and_the_other_way(
    client: httpx.AsyncClient, team: Team
) -> None:
    native = await create_contact(client, team)
    mine = await create(client, team)
    listed = await client.get("/api/v1/contacts", headers=team.headers)
    assert {c["email"] for c in listed.json()["data"]} == {native["email"], mine["email"]}
    ours = await client.get(contacts_url(team), headers=team.headers)
    assert [c["email"] for c in ours.json()["data"]] == [native["email"], mine["email"]]


async def test_identical_creates_are_never_deduplicated(
    client: httpx.AsyncClient, team: Team
) -> None:
    first = await create(client, team)
    second = await create(client, team)
    assert first["id"] != second["id"]
    assert {k: v for k, v in first.items() if k not in ("id", "created_at", "updated_at")} == {
        k: v for k, v in second.items() if k not in ("id", "created_at", "updated_at")
    }


async def test_patch_changes_only_the_fields_sent(client: httpx.AsyncClient, team: Team) -> None:
    created = await create(client, team)
    response = await client.patch(
        contact_url(team, created["id"]), json={"label": "only"}, headers=team.headers
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["label"] == "only"
    unchanged = {k: v for k, v in data.items() if k not in ("label", "updated_at")}
    assert unchanged == {k: v for k, v in created.items() if k not in ("label", "updated_at")}


async def test_empty_patch_answers_the_contact_unchanged(
    client: httpx.AsyncClient, team: Team
) -> None:
    created = await create(client, team)
    response = await client.patch(contact_url(team, created["id"]), json={}, headers=team.headers)
    assert response.status_code == 200
    assert response.json()["data"] == created


async def test_patch_may_change_names_organization_and_country(
    client: httpx.AsyncClient, team: Team
) -> None:
    created = await create(client, team)
    changes = {
        "first_name": "Marie",
        "last_name": "Curie",
        "organization_name": "Institut",
        "job_title": "Chemist",
        "country": "FR",
        "city": "Paris",
        "postal_code": "75005",
        "state_province": "",
        "address1": "1 Rue Pierre et Marie Curie",
        "phone": "+33144276000",
    }
    response = await client.patch(
        contact_url(team, created["id"]), json=changes, headers=team.headers
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert {k: data[k] for k in changes} == changes


async def test_patch_with_empty_or_null_clears_optional_fields(
    client: httpx.AsyncClient, team: Team
) -> None:
    created = await create(client, team, address2="Scala B")
    response = await client.patch(
        contact_url(team, created["id"]),
        json={"fax": "", "address2": None, "label": ""},
        headers=team.headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["fax"], data["address2"], data["label"]) == ("", "", "")


async def test_patch_address1_replaces_street_and_house_number(
    client: httpx.AsyncClient, team: Team
) -> None:
    native = await create_contact(client, team)
    listed = await client.get(contacts_url(team), headers=team.headers)
    contact_id = listed.json()["data"][0]["id"]
    response = await client.patch(
        contact_url(team, contact_id), json={"address1": "Damrak 70"}, headers=team.headers
    )
    assert response.json()["data"]["address1"] == "Damrak 70"
    again = await client.get(f"/api/v1/contacts/{native['handle']}", headers=team.headers)
    assert again.json()["data"]["address_street"] == "Damrak 70"
    assert again.json()["data"]["address_house_number"] is None


async def test_delete_answers_204_with_no_body_then_the_contact_is_gone(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create(client, team)  # the account's first contact is its default
    doomed = await create(client, team, label="doomed")
    status, _ = fixture_status_and_body("deleteContact/success.http")
    response = await client.delete(contact_url(team, doomed["id"]), headers=team.headers)
    assert response.status_code == status == 204
    assert response.content == b""
    assert "content-type" not in response.headers
    gone = await client.get(contact_url(team, doomed["id"]), headers=team.headers)
    assert message_of(gone, 404) == f"Contact `{doomed['id']}` not found"
