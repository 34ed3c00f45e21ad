"""DNSimple /v2 shares the validators: local-only phones, phone extensions, invisible format
characters and NFD text behave as in the other dialects, in DNSimple's 400 envelope."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Team
from tests.dialects.dnsimple.helpers import (
    contact_body,
    contact_url,
    contacts_url,
    create,
    errors_of,
)

US = {
    "address1": "123 Main Street",
    "city": "New York",
    "state_province": "NY",
    "postal_code": "10001",
    "country": "US",
}


@pytest.mark.parametrize("field", ["phone", "fax"])
async def test_local_only_number_is_400_naming_the_field(
    client: httpx.AsyncClient, team: Team, field: str
) -> None:
    body = contact_body(**US, **{field: "555-1234"})
    response = await client.post(contacts_url(team), json=body, headers=team.headers)
    # Rails' wording for every phone DNSimple refuses.
    assert errors_of(response) == {field: ["is probably not a phone number"]}


async def test_update_to_a_local_only_number_is_400(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create(client, team, **US)
    response = await client.patch(
        contact_url(team, contact["id"]), json={"phone": "555-1234"}, headers=team.headers
    )
    assert errors_of(response) == {"phone": ["is probably not a phone number"]}


async def test_the_fixture_numbers_stay_accepted(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create(client, team, **US, phone="+1.8001234567", fax="+15551234567")
    assert (contact["phone"], contact["fax"]) == ("+18001234567", "+15551234567")


async def test_phone_extension_is_400_saying_so(client: httpx.AsyncClient, team: Team) -> None:
    body = contact_body(**US, phone="+1 555 123 4567 x89")
    response = await client.post(contacts_url(team), json=body, headers=team.headers)
    (message,) = errors_of(response)["phone"]
    assert message.startswith("has an extension (x89)")


async def test_format_character_is_400_naming_the_field(
    client: httpx.AsyncClient, team: Team
) -> None:
    body = contact_body(organization_name="Awesome\u202e Company")
    response = await client.post(contacts_url(team), json=body, headers=team.headers)
    assert list(errors_of(response)) == ["organization_name"]


async def test_nfd_text_is_stored_as_nfc(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create(client, team, first_name="Jose\u0301")
    assert contact["first_name"] == "Jos\u00e9"
