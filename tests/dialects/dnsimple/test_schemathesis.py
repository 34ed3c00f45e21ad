"""DNSimple's own OpenAPI (shared/reference/dnsimple/openapi.yml) against a live server:
whoami, accounts, the contact operations, domain reads and webhooks never answer 5xx and
conform to their schemas.

Bounded: a few dozen examples per operation, on a fresh SQLite and a fresh PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.dialects.dnsimple.helpers import contact_body, reference_path
from tests.dialects.dnsimple.live import Tenant, live_server, make_tenant
from tests.fresh_database import BACKENDS
from tests.reference import REFERENCE
from tests.test_live_server import LiveServer

OPERATIONS = [
    "whoami",
    "listAccounts",
    "listContacts",
    "createContact",
    "getContact",
    "updateContact",
    "deleteContact",
    "listDomains",
    "getDomain",
    "listWebhooks",
    "createWebhook",
    "getWebhook",
    "deleteWebhook",
]
CHECKS = [not_a_server_error, response_schema_conformance]
SPEC = REFERENCE / "dnsimple" / "openapi.yml"


def load_schema() -> Any:
    raw = yaml.safe_load(SPEC.read_text())
    # DNSimple really sends {"errors": {field: [messages]}} (fixtures, official client); the
    # spec's 400 declares {field: object}, which no DNSimple answer matches.
    raw["components"]["responses"]["400"]["content"]["application/json"]["schema"]["properties"][
        "errors"
    ] = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
    return schemathesis.openapi.from_dict(raw).include(operation_id=OPERATIONS)


class Target:
    def __init__(self, server: LiveServer, tenant: Tenant) -> None:
        self.base_url = f"{server.base_url}/v2"
        self.account_id = tenant.account_id
        self.headers = {"Authorization": f"Bearer {tenant.token}"}


@pytest.fixture(scope="module", params=BACKENDS)
async def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Target]:
    async with live_server(request.param, tmp_path_factory.mktemp("schemathesis")) as server:
        tenant = await make_tenant(server.database_url, "Schemathesis")
        headers = {"Authorization": f"Bearer {tenant.token}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as http:
            # A few contacts, so small generated ids find one now and then.
            for n in range(4):
                created = await http.post(
                    f"/v2/{tenant.account_id}/contacts", json=contact_body(label=f"c{n}")
                )
                assert created.status_code == 201, created.text
            for name in ("example.com", "example-alpha.com"):
                added = await http.post("/api/v1/domains", json={"name": name})
                assert added.status_code == 201, added.text
            for n in range(4):
                url = f"https://receiver.invalid/{n}"
                hook = await http.post(f"/v2/{tenant.account_id}/webhooks", json={"url": url})
                assert hook.status_code == 201, hook.text
        yield Target(server, tenant)
        assert "Traceback" not in server.logs(), server.logs()


if SPEC.exists():
    schema = load_schema()

    @schema.parametrize()
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    def test_dnsimple_operations_conform_to_dnsimples_openapi(case: Any, target: Target) -> None:
        if "account" in (case.path_parameters or {}):
            case.path_parameters["account"] = target.account_id  # else nearly all are 404s
        case.call_and_validate(base_url=target.base_url, headers=target.headers, checks=CHECKS)

else:

    def test_dnsimple_operations_conform_to_dnsimples_openapi() -> None:
        reference_path("openapi.yml")  # fails in CI, skips elsewhere, saying what is missing
