"""What our OpenAPI declares for /api/v1, and the answers it promises that the fuzz run
(test_schemathesis.py) holds us to: the error envelope, the links, the auth scheme, 405's Allow."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Team

NATIVE = "/api/v1/"


async def native_operations(client: httpx.AsyncClient) -> list[tuple[str, str, dict[str, Any]]]:
    spec = (await client.get("/openapi.json")).json()
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        if path.startswith(NATIVE)
        for method, operation in item.items()
    ]


async def test_every_native_operation_declares_its_errors_in_the_native_envelope(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    for method, path, operation in await native_operations(client):
        responses = operation["responses"]
        for code in ("400", "401", "404", "422"):
            assert code in responses, (method, path, code)
        error = responses["401"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
        assert schemas[error]["required"] == ["message"]
        fields = responses["422"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
        assert set(schemas[fields]["required"]) == {"message", "errors"}
        assert "HTTPValidationError" not in str(responses), (method, path)
        assert operation["security"] == [{"HTTPBearer": []}], (method, path)
    ops = {(m, p): o for m, p, o in await native_operations(client)}
    assert "409" in ops[("delete", "/api/v1/contacts/{handle}")]["responses"]
    assert "409" in ops[("post", "/api/v1/domains")]["responses"]
    assert "200" in ops[("post", "/api/v1/contacts")]["responses"]  # identical: the existing one


async def test_creates_link_to_the_operations_on_what_they_created(
    client: httpx.AsyncClient,
) -> None:
    ops = {(m, p): o for m, p, o in await native_operations(client)}
    ids = {o["operationId"] for o in ops.values()}
    contact_links = ops[("post", "/api/v1/contacts")]["responses"]["201"]["links"]
    assert contact_links["GetContact"] == {
        "operationId": "getContact",
        "parameters": {"handle": "$response.body#/data/handle"},
    }
    domain_links = ops[("post", "/api/v1/domains")]["responses"]["201"]["links"]
    assert domain_links["DeleteDomain"]["parameters"] == {"name": "$response.body#/data/name"}
    certificate_links = ops[("post", "/api/v1/certificates")]["responses"]["201"]["links"]
    assert certificate_links["GetCertificate"]["parameters"] == {
        "certificate_id": "$response.body#/data/id"
    }
    for links in (contact_links, domain_links, certificate_links):
        assert {link["operationId"] for link in links.values()} <= ids


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/contacts/somehandle", "DELETE, GET, PATCH"),
        ("/api/v1/domains/example.com", "DELETE, GET, PATCH"),
        ("/api/v1/contacts", "GET, POST"),
    ],
)
async def test_method_not_allowed_names_every_method_of_the_path(
    client: httpx.AsyncClient, team: Team, path: str, allowed: str
) -> None:
    response = await client.put(path, json={}, headers=team.headers)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json() == {"message": "Method Not Allowed"}


async def test_method_not_allowed_on_a_literal_path_names_its_own_methods(
    client: httpx.AsyncClient, team: Team
) -> None:
    # /contacts/list is also /contacts/{handle} with handle "list"; the spec has only POST.
    response = await client.put("/api/v1/contacts/list", json={}, headers=team.headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
