"""Small helpers the name.com API tests share (plain functions, no fixtures)."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from tests.conftest import Team, create_contact, us_contact_payload

CORE = "/core/v1"
DOMAINS = f"{CORE}/domains"
ROLES = ("registrant", "admin", "tech", "billing")
REQUIRED_DOMAIN_FIELDS = (
    "domainName",
    "createDate",
    "expireDate",
    "autorenewEnabled",
    "locked",
    "privacyEnabled",
    "contacts",
    "nameservers",
    "renewalPrice",
)


def auth(team: Team) -> tuple[str, str]:
    """HTTP Basic credentials: the account's slug and one of its tokens."""
    return (team.slug, team.token)


def domain_url(name: str) -> str:
    return f"{DOMAINS}/{name}"


def set_contacts_url(name: str) -> str:
    return f"{DOMAINS}/{name}:setContacts"


def namecom_contact(**overrides: Any) -> dict[str, Any]:
    """A valid name.com contact (the seed's), keyword overrides replace or add fields."""
    contact: dict[str, Any] = {
        "firstName": "John",
        "lastName": "Doe",
        "address1": "123 Main Street",
        "city": "New York",
        "state": "NY",
        "zip": "10001",
        "country": "US",
        "email": "john.doe@example.com",
        "phone": "+15551234567",
        "companyName": "Example Inc.",
        "address2": "Suite 400",
        "fax": "+15557654321",
    }
    contact.update(overrides)
    return contact


def all_roles(**by_role: dict[str, Any]) -> dict[str, Any]:
    """A setContacts body: the seed's contact in every role unless given."""
    return {"contacts": {role: by_role.get(role, namecom_contact()) for role in ROLES}}


async def add_default_contact(client: httpx.AsyncClient, team: Team, **overrides: Any) -> Any:
    """The team's first contact (so its default), created through the native API: a US contact
    with a house number, so name.com shows it composed as "123 Main Street"."""
    return await create_contact(client, team, **us_contact_payload(**overrides))


async def create_domain(
    client: httpx.AsyncClient, team: Team, name: str, **domain: Any
) -> dict[str, Any]:
    response = await client.post(
        DOMAINS, json={"domain": {"domainName": name, **domain}}, auth=auth(team)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def get_domain(client: httpx.AsyncClient, team: Team, name: str) -> dict[str, Any]:
    response = await client.get(domain_url(name), auth=auth(team))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def contact_count(client: httpx.AsyncClient, team: Team) -> int:
    """How many contacts the team has, as the native API counts them."""
    response = await client.get("/api/v1/contacts", params={"per_page": 1}, headers=team.headers)
    assert response.status_code == 200, response.text
    total: int = response.json()["meta"]["total"]
    return total


async def role_handles(client: httpx.AsyncClient, team: Team, name: str) -> dict[str, str]:
    """Role -> handle of the domain's contacts, as the native API shows them."""
    response = await client.get(f"/api/v1/domains/{name}", headers=team.headers)
    assert response.status_code == 200, response.text
    handles: dict[str, str] = response.json()["data"]["contacts"]
    return handles


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    """name.com's error envelope: ``message`` always, ``details`` a string when present."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["message"], str)
    assert body["message"]
    assert "detail" not in body
    assert set(body) <= {"message", "details"}
    return body


def contacts_body(domain: dict[str, Any]) -> dict[str, Any]:
    """A GetDomain answer's contacts as a setContacts body, read-only isVerified included:
    name.com's callers send back what they read."""
    return {"contacts": copy.deepcopy(domain["contacts"])}
