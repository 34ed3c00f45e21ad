"""Malformed requests get name.com's envelope with a 4xx that says what is wrong, never a 500
and never FastAPI's {"detail": ...}. (httpx's ASGI transport re-raises anything the app lets
escape, so an unhandled error fails these tests too.)"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Team
from tests.dialects.namecom.helpers import (
    DOMAINS,
    add_default_contact,
    all_roles,
    auth,
    create_domain,
    domain_url,
    error,
    get_domain,
    set_contacts_url,
)

UNSUPPORTED = {"message": "The 'Content-Type' header must be 'application/json' for this request."}


@pytest.fixture
async def domain(client: httpx.AsyncClient, team: Team) -> str:
    await add_default_contact(client, team)
    await create_domain(client, team, "body.com")
    return "body.com"


def writes(name: str) -> list[tuple[str, str, bytes]]:
    return [
        ("POST", DOMAINS, b'{"domain": {"domainName": "fresh.com"}}'),
        ("PATCH", domain_url(name), b'{"locked": true}'),
        ("POST", set_contacts_url(name), b'{"contacts": {}}'),
    ]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx", "json"],
)
async def test_writes_without_json_content_type_are_415(
    client: httpx.AsyncClient, team: Team, domain: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    for method, url, content in writes(domain):
        response = await client.request(
            method, url, content=content, headers=headers, auth=auth(team)
        )
        assert response.status_code == 415, (method, url, response.text)
        assert response.json() == UNSUPPORTED
    assert (await get_domain(client, team, domain))["locked"] is False


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"],
)
async def test_json_content_type_with_parameters_is_accepted(
    client: httpx.AsyncClient, team: Team, domain: str, content_type: str
) -> None:
    response = await client.patch(
        domain_url(domain),
        content=b'{"locked": true}',
        headers={"Content-Type": content_type},
        auth=auth(team),
    )
    assert response.status_code == 200, response.text


async def test_reads_need_no_content_type(
    client: httpx.AsyncClient, team: Team, domain: str
) -> None:
    response = await client.get(
        domain_url(domain), headers={"Content-Type": "text/html"}, auth=auth(team)
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "content",
    [b"", b"{bad", b'{"locked": true,}', b"{'locked': true}", b'{"locked": true', b"\xff\xfe"],
)
async def test_malformed_json_is_400_invalid_argument(
    client: httpx.AsyncClient, team: Team, domain: str, content: bytes
) -> None:
    for method, url, _ in writes(domain):
        response = await client.request(
            method,
            url,
            content=content,
            headers={"Content-Type": "application/json"},
            auth=auth(team),
        )
        assert error(response, 400) == {
            "message": "Invalid argument",
            "details": "The request body is not valid JSON",
        }


@pytest.mark.parametrize("content", [b"[]", b'"x"', b"7", b"null", b"true"])
async def test_json_that_is_not_an_object_is_400(
    client: httpx.AsyncClient, team: Team, domain: str, content: bytes
) -> None:
    for method, url, _ in writes(domain):
        response = await client.request(
            method,
            url,
            content=content,
            headers={"Content-Type": "application/json"},
            auth=auth(team),
        )
        assert error(response, 400)["message"] == "Invalid argument"


async def test_control_characters_and_lone_surrogates_are_400(
    client: httpx.AsyncClient, team: Team, domain: str
) -> None:
    for value in ("Jo\\u0000hn", "Jo\\ud800hn", "Jo\\nhn"):
        body = (
            '{"contacts": {"registrant": {"firstName": "%s"}}}' % value  # noqa: UP031
        ).encode()
        response = await client.post(
            set_contacts_url(domain),
            content=body,
            headers={"Content-Type": "application/json"},
            auth=auth(team),
        )
        error(response, 400)


async def test_wrong_nesting_is_400_naming_the_path(
    client: httpx.AsyncClient, team: Team, domain: str
) -> None:
    body = {"contacts": {"registrant": ["John"], "admin": "Doe"}}
    response = await client.post(set_contacts_url(domain), json=body, auth=auth(team))
    details = error(response, 400)["details"]
    assert "contacts.registrant: " in details
    assert "contacts.admin: " in details


async def test_unknown_role_is_400(client: httpx.AsyncClient, team: Team, domain: str) -> None:
    body = all_roles()
    body["contacts"]["reseller"] = body["contacts"]["admin"]
    response = await client.post(set_contacts_url(domain), json=body, auth=auth(team))
    assert error(response, 400)["details"] == "contacts.reseller: is not a known field"


async def test_unknown_path_and_method_use_the_envelope(
    client: httpx.AsyncClient, team: Team, domain: str
) -> None:
    error(await client.get("/core/v1/nothing-here", auth=auth(team)), 404)
    error(await client.delete(domain_url(domain), auth=auth(team)), 405)
