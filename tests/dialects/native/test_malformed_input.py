"""Malformed requests get a 4xx in the native envelope that says what is wrong, never a 500.

httpx's ASGI transport re-raises any exception the app lets escape, so each of these tests would
also fail on an unhandled error, not only on a wrong status.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Team, contact_payload, create_contact
from tests.dialects.native.helpers import (
    CONTACTS,
    JSON_HEADERS,
    contact_url,
    error_message,
    field_errors,
    post_json_text,
)

ONE_MEBIBYTE = 1024 * 1024


async def post_bytes(
    client: httpx.AsyncClient, team: Team, content: bytes, url: str = CONTACTS
) -> httpx.Response:
    return await client.post(url, content=content, headers={**team.headers, **JSON_HEADERS})


@pytest.mark.parametrize(
    "content",
    [b"{bad", b'{"first_name": "Jan",}', b"{'first_name': 'Jan'}", b'{"first_name": "Jan"'],
)
async def test_malformed_json_is_400_with_a_clear_message(
    client: httpx.AsyncClient, team: Team, content: bytes
) -> None:
    message = error_message(await post_bytes(client, team, content), 400)
    assert "JSON" in message


async def test_malformed_json_on_update_is_400(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team)
    response = await client.patch(
        contact_url(contact["handle"]),
        content=b"{nope",
        headers={**team.headers, **JSON_HEADERS},
    )
    assert "JSON" in error_message(response, 400)


async def test_body_that_is_not_utf8_is_400(client: httpx.AsyncClient, team: Team) -> None:
    response = await post_bytes(client, team, b'{"first_name": "\xff\xfe"}')
    error_message(response, 400)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", 123),
        ("email", ["jan@example.com"]),
        ("phone", 31201234567),
        ("address_city", {"name": "Amsterdam"}),
        ("is_default", "yes"),
        ("allow_duplicate", "true"),
        ("allow_duplicate", 1),
        ("parent_handle", 7),
        ("extension_data", "eu"),
    ],
)
async def test_wrong_type_is_422_naming_the_field(
    client: httpx.AsyncClient, team: Team, field: str, value: Any
) -> None:
    response = await client.post(
        CONTACTS, json=contact_payload(**{field: value}), headers=team.headers
    )
    assert list(field_errors(response)) == [field]


async def test_wrong_type_on_update_is_422_naming_the_field(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team)
    response = await client.patch(
        contact_url(contact["handle"]), json={"address_city": 5}, headers=team.headers
    )
    assert list(field_errors(response)) == ["address_city"]


async def test_unknown_field_is_422_naming_the_field(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.post(
        CONTACTS, json=contact_payload(nickname="JJ", organization="Acme"), headers=team.headers
    )
    assert set(field_errors(response)) == {"nickname", "organization"}


async def test_unknown_field_on_update_is_422_naming_the_field(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team)
    response = await client.patch(
        contact_url(contact["handle"]), json={"address1": "Damrak 1"}, headers=team.headers
    )
    assert list(field_errors(response)) == ["address1"]


async def test_unknown_field_in_list_request_is_422_naming_the_field(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.post(
        f"{CONTACTS}/list", json={"contacts": [], "handles": []}, headers=team.headers
    )
    assert list(field_errors(response)) == ["handles"]


async def test_body_over_one_mebibyte_is_413(client: httpx.AsyncClient, team: Team) -> None:
    body = contact_payload(label="x" * ONE_MEBIBYTE)
    response = await client.post(CONTACTS, json=body, headers=team.headers)
    assert "larger" in error_message(response, 413)
    listing = await client.get(CONTACTS, headers=team.headers)
    assert listing.json()["meta"]["total"] == 0


async def test_body_just_under_the_limit_is_read(client: httpx.AsyncClient, team: Team) -> None:
    # Read, then refused for the label's length: the size limit is not what stops it.
    body = contact_payload(label="x" * (ONE_MEBIBYTE - 1024))
    response = await client.post(CONTACTS, json=body, headers=team.headers)
    assert list(field_errors(response)) == ["label"]


@pytest.mark.parametrize("content", [b"[]", b'["first_name"]', b'"Jan"', b"42", b"true", b"null"])
async def test_json_body_that_is_not_an_object_is_refused(
    client: httpx.AsyncClient, team: Team, content: bytes
) -> None:
    response = await post_bytes(client, team, content)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["message"]


@pytest.mark.parametrize("content", [b"[]", b'"x"', b"null"])
async def test_list_request_that_is_not_an_object_is_refused(
    client: httpx.AsyncClient, team: Team, content: bytes
) -> None:
    response = await post_bytes(client, team, content, url=f"{CONTACTS}/list")
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["message"]


async def test_empty_body_is_refused(client: httpx.AsyncClient, team: Team) -> None:
    response = await post_bytes(client, team, b"")
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["message"]


async def test_deeply_nested_json_is_refused(client: httpx.AsyncClient, team: Team) -> None:
    depth = 100_000
    response = await post_bytes(client, team, b"[" * depth + b"]" * depth)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["message"]


async def test_unpaired_surrogate_in_a_field_is_422_naming_it(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await post_json_text(client, CONTACTS, contact_payload(last_name="J\udc00"), team)
    assert list(field_errors(response)) == ["last_name"]


@pytest.mark.parametrize(
    "params",
    [
        {"page": "two"},
        {"per_page": "many"},
        {"page": str(2**63)},
        {"page": str(10**30)},
        {"page": "-1"},
    ],
)
async def test_bad_paging_parameter_is_422_naming_it(
    client: httpx.AsyncClient, team: Team, params: dict[str, str]
) -> None:
    response = await client.get(CONTACTS, params=params, headers=team.headers)
    assert list(field_errors(response)) == list(params)


async def test_huge_history_page_is_422(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team)
    response = await client.get(
        f"{contact_url(contact['handle'])}/history",
        params={"page": str(2**62)},
        headers=team.headers,
    )
    assert list(field_errors(response)) == ["page"]
