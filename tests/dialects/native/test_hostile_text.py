"""Hostile and look-alike text through /api/v1: NFC and NFD are one contact, invisible format
characters are refused naming the field, extension_data and history stay bounded, phones that
dial only locally or carry an extension are refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from nichandle.contacts.validation import (
    MAX_EXTENSION_BYTES,
    MAX_EXTENSION_FIELDS,
    MAX_EXTENSION_VALUE_LENGTH,
)
from nichandle.paging import MAX_PER_PAGE
from tests.conftest import Team, contact_payload, create_contact, us_contact_payload
from tests.dialects.native.helpers import CONTACTS, contact_url, field_errors, list_handles

NFC_NAME = "Jos\u00e9"
NFD_NAME = "Jose\u0301"


async def post(client: httpx.AsyncClient, team: Team, body: dict[str, Any]) -> httpx.Response:
    return await client.post(CONTACTS, json=body, headers=team.headers)


async def patch(
    client: httpx.AsyncClient, team: Team, handle: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(contact_url(handle), json=body, headers=team.headers)


async def history(client: httpx.AsyncClient, team: Team, handle: str, **params: Any) -> Any:
    response = await client.get(
        f"{contact_url(handle)}/history", params=params, headers=team.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- NFC ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), [(NFC_NAME, NFD_NAME), (NFD_NAME, NFC_NAME)])
async def test_nfc_and_nfd_create_one_contact(
    client: httpx.AsyncClient, team: Team, first: str, second: str
) -> None:
    created = await post(client, team, contact_payload(first_name=first))
    assert created.status_code == 201, created.text
    again = await post(client, team, contact_payload(first_name=second))
    assert again.status_code == 200, again.text
    assert again.json()["data"]["handle"] == created.json()["data"]["handle"]
    assert again.json()["data"]["first_name"] == NFC_NAME


@pytest.mark.parametrize(("stored", "query"), [(NFC_NAME, NFD_NAME), (NFD_NAME, NFC_NAME)])
async def test_search_finds_the_other_form(
    client: httpx.AsyncClient, team: Team, stored: str, query: str
) -> None:
    # Long enough for SQLite's trigram index and shorter than a trigram in NFC ("é" + "s").
    contact = await create_contact(client, team, first_name=stored)
    await create_contact(client, team, first_name="Piet", email="piet@example.com")
    for needle in (query, query[2:]):
        assert await list_handles(client, team, query=needle) == [contact["handle"]], needle


async def test_metadata_filter_finds_the_other_form(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team, metadata={"city": NFD_NAME})
    assert contact["metadata"] == {"city": NFC_NAME}
    found = await list_handles(client, team, **{"metadata[city]": NFC_NAME})
    assert found == [contact["handle"]]
    assert await list_handles(client, team, **{"metadata[city]": NFD_NAME}) == found


async def test_patch_stores_nfc(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team)
    response = await patch(client, team, contact["handle"], {"address_city": f"Z{'u'}\u0308rich"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["address_city"] == "Z\u00fcrich"


# --- format characters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    ["first_name", "last_name", "company_name", "address_street", "address_city", "email"],
)
@pytest.mark.parametrize("char", ["\u200b", "\u202e"])
async def test_format_character_is_422_naming_the_field(
    client: httpx.AsyncClient, team: Team, field: str, char: str
) -> None:
    value = contact_payload().get(field) or "Acme"
    body = contact_payload(**{field: value[:2] + char + value[2:]})
    errors = field_errors(await post(client, team, body))
    assert list(errors) == [field]
    assert f"U+{ord(char):04X}" in errors[field][0]


async def test_name_of_only_invisible_characters_is_refused(
    client: httpx.AsyncClient, team: Team
) -> None:
    errors = field_errors(await post(client, team, contact_payload(first_name="\u200b\u200b")))
    assert list(errors) == ["first_name"]
    listing = await client.get(CONTACTS, headers=team.headers)
    assert listing.json()["meta"]["total"] == 0


async def test_patch_with_bidi_override_is_refused(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team)
    response = await patch(client, team, contact["handle"], {"address_street": "\u202ekarmaD"})
    assert list(field_errors(response)) == ["address_street"]


async def test_label_may_hold_an_emoji_sequence(client: httpx.AsyncClient, team: Team) -> None:
    label = "Family \U0001f468\u200d\U0001f469\u200d\U0001f467"
    contact = await create_contact(client, team, label=label)
    assert contact["label"] == label


# --- extension_data and history -------------------------------------------------------------


async def test_too_many_fields_for_a_tld_is_422_naming_it(
    client: httpx.AsyncClient, team: Team
) -> None:
    fields = {f"f{n}": "x" for n in range(MAX_EXTENSION_FIELDS + 1)}
    response = await post(client, team, contact_payload(extension_data={"nl": fields}))
    assert list(field_errors(response)) == ["extension_data.nl"]


async def test_oversized_extension_data_writes_no_history(
    client: httpx.AsyncClient, team: Team
) -> None:
    # What wrote 83 MB of history and outbox: half a megabyte of extension data, patched.
    contact = await create_contact(client, team)
    huge = {
        f"t{n}": {f"f{m}": "x" * MAX_EXTENSION_VALUE_LENGTH for m in range(20)} for n in range(50)
    }
    response = await patch(client, team, contact["handle"], {"extension_data": huge})
    errors = field_errors(response)
    assert list(errors) == ["extension_data"]
    assert str(MAX_EXTENSION_BYTES) in errors["extension_data"][0]
    assert (await history(client, team, contact["handle"]))["meta"]["total"] == 1


async def test_history_page_size_is_bounded(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team)
    response = await client.get(
        f"{contact_url(contact['handle'])}/history",
        params={"per_page": MAX_PER_PAGE + 1},
        headers=team.headers,
    )
    assert list(field_errors(response)) == ["per_page"]


async def test_a_version_at_every_limit_is_bounded(client: httpx.AsyncClient, team: Team) -> None:
    # The largest extension data and metadata a contact may hold, written twice: each version
    # holds them before and after, and stays within a known size.
    extension_data = {
        f"t{n}": {f"f{m}": "x" * 300 for m in range(MAX_EXTENSION_FIELDS)} for n in range(2)
    }
    metadata = {f"k{n:039d}": "v" * 500 for n in range(50)}
    contact = await create_contact(client, team, extension_data=extension_data, metadata=metadata)
    changed = {"address_city": "Utrecht", "extension_data": {**extension_data, "eu": {"a": "b"}}}
    assert (await patch(client, team, contact["handle"], changed)).status_code == 200
    response = await client.get(f"{contact_url(contact['handle'])}/history", headers=team.headers)
    assert response.status_code == 200
    _created, updated = response.json()["data"]
    assert updated["after"]["extension_data"]["eu"] == {"a": "b"}
    # before + after, each at most 16 KiB of extension data, ~27 KB of metadata, ~6 KB of text.
    assert len(response.content) < 2 * 2 * (MAX_EXTENSION_BYTES + 28_000 + 6_000)


# --- phones ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["phone", "fax"])
async def test_local_only_number_is_422_naming_the_field(
    client: httpx.AsyncClient, team: Team, field: str
) -> None:
    errors = field_errors(await post(client, team, us_contact_payload(**{field: "555-1234"})))
    assert list(errors) == [field]
    assert "area code" in errors[field][0]


async def test_patch_to_a_local_only_number_is_refused(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team, **us_contact_payload())
    response = await patch(client, team, contact["handle"], {"phone": "555-1234"})
    assert list(field_errors(response)) == ["phone"]


async def test_phone_extension_is_refused_not_dropped(
    client: httpx.AsyncClient, team: Team
) -> None:
    body = us_contact_payload(phone="+1 555 123 4567 x89")
    errors = field_errors(await post(client, team, body))
    assert list(errors) == ["phone"]
    assert "extension (x89)" in errors["phone"][0]
