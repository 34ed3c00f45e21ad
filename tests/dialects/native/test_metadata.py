"""Native contact metadata (a small string map) and per-TLD extension data."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Team, contact_payload, create_contact
from tests.dialects.native.helpers import CONTACTS, contact_url, field_errors, post_json_text


async def create_with(client: httpx.AsyncClient, team: Team, **fields: Any) -> httpx.Response:
    return await client.post(CONTACTS, json=contact_payload(**fields), headers=team.headers)


async def patch(
    client: httpx.AsyncClient, team: Team, handle: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(contact_url(handle), json=body, headers=team.headers)


async def test_metadata_is_stored_on_create(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team, metadata={"customer": "42", "plan": "gold"})
    assert contact["metadata"] == {"customer": "42", "plan": "gold"}
    got = await client.get(contact_url(contact["handle"]), headers=team.headers)
    assert got.json()["data"]["metadata"] == {"customer": "42", "plan": "gold"}


async def test_contact_without_metadata_has_an_empty_map(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team)
    assert contact["metadata"] == {}


@pytest.mark.parametrize("value", [1, 1.5, True, None, ["a"], {"nested": "x"}])
async def test_metadata_values_must_be_strings(
    client: httpx.AsyncClient, team: Team, value: Any
) -> None:
    errors = field_errors(await create_with(client, team, metadata={"customer": value}))
    assert list(errors) == ["metadata.customer"]


async def test_metadata_that_is_not_an_object_is_refused(
    client: httpx.AsyncClient, team: Team
) -> None:
    errors = field_errors(await create_with(client, team, metadata=["a", "b"]))
    assert list(errors) == ["metadata"]


async def test_metadata_key_of_40_characters_is_accepted(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team, metadata={"k" * 40: "v"})
    assert contact["metadata"] == {"k" * 40: "v"}


async def test_metadata_key_longer_than_40_characters_is_refused(
    client: httpx.AsyncClient, team: Team
) -> None:
    key = "k" * 41
    errors = field_errors(await create_with(client, team, metadata={key: "v"}))
    assert list(errors) == [f"metadata.{key}"]


@pytest.mark.parametrize("key", ["a[b", "a]b", "[x]", "tags[]"])
async def test_metadata_key_with_brackets_is_refused(
    client: httpx.AsyncClient, team: Team, key: str
) -> None:
    errors = field_errors(await create_with(client, team, metadata={key: "v"}))
    assert list(errors) == [f"metadata.{key}"]


async def test_metadata_value_of_500_characters_is_accepted(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team, metadata={"note": "v" * 500})
    assert contact["metadata"]["note"] == "v" * 500


async def test_metadata_value_longer_than_500_characters_is_refused(
    client: httpx.AsyncClient, team: Team
) -> None:
    errors = field_errors(await create_with(client, team, metadata={"note": "v" * 501}))
    assert list(errors) == ["metadata.note"]


async def test_fifty_metadata_keys_are_accepted(client: httpx.AsyncClient, team: Team) -> None:
    metadata = {f"key{i}": "v" for i in range(50)}
    contact = await create_contact(client, team, metadata=metadata)
    assert contact["metadata"] == metadata


async def test_more_than_fifty_metadata_keys_are_refused(
    client: httpx.AsyncClient, team: Team
) -> None:
    metadata = {f"key{i}": "v" for i in range(51)}
    errors = field_errors(await create_with(client, team, metadata=metadata))
    assert list(errors) == ["metadata"]


async def test_every_bad_metadata_key_is_named(client: httpx.AsyncClient, team: Team) -> None:
    metadata = {"ok": "v", "n": 1, "a[": "v", "long": "v" * 501}
    errors = field_errors(await create_with(client, team, metadata=metadata))
    assert set(errors) == {"metadata.n", "metadata.a[", "metadata.long"}


async def test_metadata_errors_are_reported_with_contact_errors(
    client: httpx.AsyncClient, team: Team
) -> None:
    errors = field_errors(await create_with(client, team, email="nope", metadata={"n": 1}))
    assert set(errors) == {"email", "metadata.n"}


@pytest.mark.parametrize(("key", "value"), [("note", "a\x00b"), ("a\x00b", "v"), ("note", "a\nb")])
async def test_metadata_with_control_characters_is_refused(
    client: httpx.AsyncClient, team: Team, key: str, value: str
) -> None:
    errors = field_errors(await create_with(client, team, metadata={key: value}))
    assert list(errors) == [f"metadata.{key}"]


async def test_metadata_value_with_unpaired_surrogate_is_refused(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await post_json_text(
        client, CONTACTS, contact_payload(metadata={"note": "a\ud800b"}), team
    )
    assert list(field_errors(response)) == ["metadata.note"]


async def test_metadata_update_merges_keys(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team, metadata={"a": "1", "b": "2"})
    response = await patch(client, team, contact["handle"], {"metadata": {"b": "20", "c": "3"}})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["metadata"] == {"a": "1", "b": "20", "c": "3"}


async def test_empty_string_removes_a_metadata_key(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team, metadata={"a": "1", "b": "2"})
    response = await patch(client, team, contact["handle"], {"metadata": {"a": "", "zz": ""}})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["metadata"] == {"b": "2"}


async def test_empty_object_clears_metadata(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team, metadata={"a": "1", "b": "2"})
    response = await patch(client, team, contact["handle"], {"metadata": {}})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["metadata"] == {}
    got = await client.get(contact_url(contact["handle"]), headers=team.headers)
    assert got.json()["data"]["metadata"] == {}


@pytest.mark.parametrize("body", [{"address_city": "Utrecht"}, {"metadata": None}])
async def test_update_without_metadata_keeps_it(
    client: httpx.AsyncClient, team: Team, body: dict[str, Any]
) -> None:
    contact = await create_contact(client, team, metadata={"a": "1"})
    response = await patch(client, team, contact["handle"], body)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["metadata"] == {"a": "1"}


async def test_update_may_not_grow_metadata_past_fifty_keys(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team, metadata={f"key{i}": "v" for i in range(50)})
    response = await patch(client, team, contact["handle"], {"metadata": {"one_more": "v"}})
    assert list(field_errors(response)) == ["metadata"]
    got = await client.get(contact_url(contact["handle"]), headers=team.headers)
    assert len(got.json()["data"]["metadata"]) == 50


async def test_update_may_swap_a_key_when_metadata_is_full(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team, metadata={f"key{i}": "v" for i in range(50)})
    response = await patch(
        client, team, contact["handle"], {"metadata": {"key0": "", "replacement": "v"}}
    )
    assert response.status_code == 200, response.text
    metadata = response.json()["data"]["metadata"]
    assert len(metadata) == 50
    assert "key0" not in metadata
    assert metadata["replacement"] == "v"


async def test_update_metadata_errors_are_keyed_by_metadata_key(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team, metadata={"a": "1"})
    response = await patch(client, team, contact["handle"], {"metadata": {"a": 2, "b[": "x"}})
    assert set(field_errors(response)) == {"metadata.a", "metadata.b["}
    got = await client.get(contact_url(contact["handle"]), headers=team.headers)
    assert got.json()["data"]["metadata"] == {"a": "1"}


async def test_extension_data_is_stored_by_lower_case_tld(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(
        client, team, extension_data={".EU": {"citizenship": "NL", "is_eu": True, "n": 3}}
    )
    assert contact["extension_data"] == {"eu": {"citizenship": "NL", "is_eu": True, "n": 3}}


async def test_extension_data_for_a_tld_must_be_an_object(
    client: httpx.AsyncClient, team: Team
) -> None:
    errors = field_errors(await create_with(client, team, extension_data={"eu": "NL"}))
    assert list(errors) == ["extension_data.eu"]


async def test_extension_data_errors_name_the_tld_and_the_field(
    client: httpx.AsyncClient, team: Team
) -> None:
    extension_data = {"eu": {"citizenship": {"country": "NL"}}, "fr": {"siren": ["1"]}}
    errors = field_errors(await create_with(client, team, extension_data=extension_data))
    assert set(errors) == {"extension_data.eu.citizenship", "extension_data.fr.siren"}


async def test_extension_data_key_that_is_no_tld_is_refused(
    client: httpx.AsyncClient, team: Team
) -> None:
    errors = field_errors(await create_with(client, team, extension_data={"e u": {}}))
    assert list(errors) == ["extension_data.e u"]


async def test_extension_data_value_with_control_characters_is_refused(
    client: httpx.AsyncClient, team: Team
) -> None:
    extension_data = {"eu": {"citizenship": "N\x00L"}}
    errors = field_errors(await create_with(client, team, extension_data=extension_data))
    assert list(errors) == ["extension_data.eu.citizenship"]


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
async def test_extension_data_number_must_be_finite(
    client: httpx.AsyncClient, team: Team, number: float
) -> None:
    body = contact_payload(extension_data={"eu": {"n": number}})
    response = await post_json_text(client, CONTACTS, body, team)
    assert list(field_errors(response)) == ["extension_data.eu.n"]


async def test_update_extension_data_errors_name_the_tld(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team)
    response = await patch(client, team, contact["handle"], {"extension_data": {"eu": 1}})
    assert list(field_errors(response)) == ["extension_data.eu"]
