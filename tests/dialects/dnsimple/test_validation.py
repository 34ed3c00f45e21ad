"""DNSimple /v2 validation: 400 with DNSimple's wording and field names, never a 422 or a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Team, contact_payload, create_contact
from tests.dialects.dnsimple.helpers import (
    contact_body,
    contact_url,
    contacts_url,
    create,
    errors_of,
    fixture_status_and_body,
    message_of,
)

JSON = {"content-type": "application/json"}


async def test_empty_create_answers_exactly_the_validation_fixture(
    client: httpx.AsyncClient, team: Team
) -> None:
    for name in ("createContact/error-validation-errors.http", "validation-error.http"):
        status, fixture = fixture_status_and_body(name)
        response = await client.post(contacts_url(team), json={}, headers=team.headers)
        assert response.status_code == status == 400
        assert response.json() == fixture
        # Key order too: DNSimple lists the fields alphabetically.
        assert list(response.json()["errors"]) == list(fixture["errors"])


async def test_blank_strings_count_as_missing(client: httpx.AsyncClient, team: Team) -> None:
    body = dict.fromkeys(contact_body(), "  ")
    response = await client.post(contacts_url(team), json=body, headers=team.headers)
    errors = errors_of(response)
    assert errors["email"] == ["can't be blank", "is an invalid email address"]
    assert errors["phone"] == ["can't be blank", "is probably not a phone number"]
    assert errors["state_province"] == ["can't be blank"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "is an invalid email address"),
        ("phone", "12", "is probably not a phone number"),
        ("phone", "call me", "is probably not a phone number"),
        ("fax", "12", "is probably not a phone number"),
    ],
)
async def test_invalid_email_and_phones_use_dnsimples_wording(
    client: httpx.AsyncClient, team: Team, field: str, value: str, message: str
) -> None:
    response = await client.post(
        contacts_url(team), json=contact_body(**{field: value}), headers=team.headers
    )
    assert errors_of(response) == {field: [message]}


async def test_other_problems_keep_the_core_message_under_dnsimple_names(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.post(
        contacts_url(team),
        json=contact_body(country="XX", first_name="x" * 300),
        headers=team.headers,
    )
    errors = errors_of(response)
    assert errors["country"] == ["is not an ISO 3166-1 alpha-2 country code"]
    assert errors["first_name"] == ["is too long (maximum is 255 characters)"]
    us = await client.post(
        contacts_url(team),
        json=contact_body(country="US", state_province="NY", postal_code="ABCDE"),
        headers=team.headers,
    )
    assert list(errors_of(us)) == ["postal_code"]


async def test_state_province_is_required_on_create_only(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.post(
        contacts_url(team), json=contact_body(state_province=...), headers=team.headers
    )
    assert errors_of(response) == {"state_province": ["can't be blank"]}
    # France lists no states: an update may clear it.
    created = await create(client, team, country="FR", state_province="XY", postal_code="75001")
    cleared = await client.patch(
        contact_url(team, created["id"]), json={"state_province": ""}, headers=team.headers
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["data"]["state_province"] == ""


async def test_organization_name_without_job_title_is_refused_on_create(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.post(
        contacts_url(team), json=contact_body(job_title=...), headers=team.headers
    )
    assert errors_of(response) == {"job_title": ["can't be blank"]}
    empty = await client.post(
        contacts_url(team), json=contact_body(job_title=" "), headers=team.headers
    )
    assert errors_of(empty) == {"job_title": ["can't be blank"]}
    # No organisation, no job title needed.
    await create(client, team, organization_name=..., job_title=...)
    await create(client, team, organization_name="", job_title=...)


async def test_organization_name_sent_on_update_needs_a_job_title_in_the_result(
    client: httpx.AsyncClient, team: Team
) -> None:
    # A company contact without job title, as the native API may create it.
    await create_contact(client, team, company_name="ACME")
    listed = await client.get(contacts_url(team), headers=team.headers)
    acme = listed.json()["data"][0]
    url = contact_url(team, acme["id"])
    assert (acme["organization_name"], acme["job_title"]) == ("ACME", "")

    # Not sending organization_name: the rule does not apply.
    renamed = await client.patch(url, json={"label": "kept"}, headers=team.headers)
    assert renamed.status_code == 200
    # Sending it (as get -> modify -> update does) without a job title in the result: refused.
    sent = await client.patch(url, json={"organization_name": "ACME"}, headers=team.headers)
    assert errors_of(sent) == {"job_title": ["can't be blank"]}
    # With a job title, in the request or already stored, it passes.
    with_title = await client.patch(
        url, json={"organization_name": "ACME", "job_title": "Boss"}, headers=team.headers
    )
    assert with_title.status_code == 200
    again = await client.patch(url, json={"organization_name": "ACME 2"}, headers=team.headers)
    assert again.status_code == 200
    # Clearing the job title while sending the organisation: refused.
    cleared = await client.patch(
        url, json={"organization_name": "ACME", "job_title": ""}, headers=team.headers
    )
    assert errors_of(cleared) == {"job_title": ["can't be blank"]}


async def test_update_validates_the_whole_contact_with_dnsimple_names(
    client: httpx.AsyncClient, team: Team
) -> None:
    created = await create(client, team)
    response = await client.patch(
        contact_url(team, created["id"]),
        json={"email": "", "city": None, "address1": ""},
        headers=team.headers,
    )
    assert errors_of(response) == {
        "address1": ["can't be blank"],
        "city": ["can't be blank"],
        "email": ["can't be blank", "is an invalid email address"],
    }


async def test_malformed_json_is_a_400_with_errors(client: httpx.AsyncClient, team: Team) -> None:
    for raw in (b"{bad", b"\x00", b'{"label": "x"'):
        response = await client.post(
            contacts_url(team), content=raw, headers={**team.headers, **JSON}
        )
        errors = errors_of(response)
        assert response.json()["message"] == "The request body is not valid JSON"
        assert errors == {"body": ["is not valid JSON"]}


@pytest.mark.parametrize("body", [[], [1, 2], "a string", 42, True, None])
async def test_a_body_that_is_no_object_is_a_400_with_errors(
    client: httpx.AsyncClient, team: Team, body: Any
) -> None:
    created = await create(client, team)
    for response in (
        await client.post(contacts_url(team), json=body, headers=team.headers),
        await client.patch(contact_url(team, created["id"]), json=body, headers=team.headers),
    ):
        errors = errors_of(response)
        assert list(errors) == ["body"], errors


async def test_wrong_types_and_unknown_fields_name_the_field(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.post(
        contacts_url(team),
        json=contact_body(label=1, first_name=True, phone=["+1"], nickname="x"),
        headers=team.headers,
    )
    errors = errors_of(response)
    assert set(errors) == {"label", "first_name", "phone", "nickname"}
    assert errors["nickname"] == ["is not a known field"]
    created = await create(client, team)
    patched = await client.patch(
        contact_url(team, created["id"]), json={"country": 39}, headers=team.headers
    )
    assert list(errors_of(patched)) == ["country"]


async def test_missing_body_on_create_is_a_400_not_a_422(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.post(contacts_url(team), headers=team.headers)
    assert list(errors_of(response)) == ["body"]


@pytest.mark.parametrize(
    "contact_id",
    ["abc", "0", "-1", "1.5", "2147483648", "9223372036854775808", "9" * 30, "\u0661", " 1"],
)
async def test_ids_that_cannot_exist_are_404_for_every_method(
    client: httpx.AsyncClient, team: Team, contact_id: str
) -> None:
    await create(client, team)
    url = contact_url(team, contact_id)
    for response in (
        await client.get(url, headers=team.headers),
        await client.patch(url, json={"label": "x"}, headers=team.headers),
        await client.delete(url, headers=team.headers),
    ):
        assert message_of(response, 404) == f"Contact `{contact_id}` not found"


async def test_not_found_matches_the_fixture(client: httpx.AsyncClient, team: Team) -> None:
    status, fixture = fixture_status_and_body("notfound-contact.http")
    response = await client.get(contact_url(team, 0), headers=team.headers)
    assert response.status_code == status
    assert response.json() == fixture


@pytest.mark.parametrize(
    "params",
    [{"page": "x"}, {"per_page": "many"}, {"page": "0"}, {"per_page": "0"}, {"page": str(2**40)}],
)
async def test_bad_paging_parameters_are_400s_with_errors(
    client: httpx.AsyncClient, team: Team, params: dict[str, str]
) -> None:
    response = await client.get(contacts_url(team), params=params, headers=team.headers)
    assert list(errors_of(response)) == list(params)


async def test_native_payload_field_names_are_unknown_here(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.post(contacts_url(team), json=contact_payload(), headers=team.headers)
    errors = errors_of(response)
    assert errors["address_street"] == ["is not a known field"]


async def test_a_body_that_is_not_even_text_is_a_400_with_errors(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.post(
        contacts_url(team), content=b"\x12\xff\xfe1\xc3", headers={**team.headers, **JSON}
    )
    assert errors_of(response) == {"body": ["is not valid JSON"]}
