"""One store, three dialects: a contact written through any dialect reads the same in the other
two (names mapped, unset fields in each dialect's own way, address1 as written)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Team, create_contact
from tests.dialects.dnsimple.helpers import contact_body as dnsimple_contact
from tests.dialects.namecom.helpers import auth, domain_url, namecom_contact, set_contacts_url

# The same person in each dialect's words: native field -> (dnsimple field, name.com field).
SAME_FIELD = {
    "first_name": ("first_name", "firstName"),
    "last_name": ("last_name", "lastName"),
    "company_name": ("organization_name", "companyName"),
    "address_line2": ("address2", "address2"),
    "address_city": ("city", "city"),
    "address_state": ("state_province", "state"),
    "address_postal_code": ("postal_code", "zip"),
    "address_country_code": ("country", "country"),
    "email": ("email", "email"),
    "phone": ("phone", "phone"),
    "fax": ("fax", "fax"),
}


async def dnsimple_by_email(client: httpx.AsyncClient, team: Team, email: str) -> dict[str, Any]:
    listed = await client.get(
        f"/v2/{team.id}/contacts", params={"per_page": 100}, headers=team.headers
    )
    matches = [c for c in listed.json()["data"] if c["email"] == email]
    assert len(matches) == 1, listed.text
    found: dict[str, Any] = matches[0]
    return found


async def native_by_email(client: httpx.AsyncClient, team: Team, email: str) -> dict[str, Any]:
    listed = await client.get("/api/v1/contacts", params={"query": email}, headers=team.headers)
    matches = [c for c in listed.json()["data"] if c["email"] == email]
    assert len(matches) == 1, listed.text
    found: dict[str, Any] = matches[0]
    return found


async def namecom_registrant(
    client: httpx.AsyncClient, team: Team, domain: str, handle: str
) -> dict[str, Any]:
    """The contact as name.com shows it: the registrant of a domain that uses it."""
    await client.post(
        "/api/v1/domains",
        json={"name": domain, "contacts": {"owner": handle}},
        headers=team.headers,
    )
    shown = await client.get(domain_url(domain), auth=auth(team))
    assert shown.status_code == 200, shown.text
    registrant: dict[str, Any] = shown.json()["contacts"]["registrant"]
    return registrant


def assert_same_person(
    native: dict[str, Any], dnsimple: dict[str, Any], namecom: dict[str, Any], address1: str
) -> None:
    for field, (dnsimple_field, namecom_field) in SAME_FIELD.items():
        value = native[field]
        assert dnsimple[dnsimple_field] == ("" if value is None else value), field
        assert namecom[namecom_field] == value, field
    assert dnsimple["address1"] == namecom["address1"] == address1


async def test_a_native_contact_reads_the_same_through_dnsimple_and_namecom(
    client: httpx.AsyncClient, team: Team
) -> None:
    native = await create_contact(
        client,
        team,
        first_name="Ann",
        company_name="Acme BV",
        address_line2="Unit 4",
        email="ann@example.com",
        fax="+31201234568",
    )
    dnsimple = await dnsimple_by_email(client, team, "ann@example.com")
    namecom = await namecom_registrant(client, team, "native-made.test", native["handle"])
    # Street and house number in the Dutch order.
    assert_same_person(native, dnsimple, namecom, address1="Damrak 1")


async def test_a_dnsimple_contact_reads_the_same_natively_and_through_namecom(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create_contact(client, team)  # the team default, so the new one is not alone
    created = await client.post(
        f"/v2/{team.id}/contacts",
        json=dnsimple_contact(email="dns@example.com", address1="Italian Street, 10"),
        headers=team.headers,
    )
    assert created.status_code == 201, created.text
    dnsimple = created.json()["data"]
    native = await native_by_email(client, team, "dns@example.com")
    assert native["address_street"] == "Italian Street, 10"
    assert native["address_house_number"] is None
    namecom = await namecom_registrant(client, team, "dnsimple-made.test", native["handle"])
    assert_same_person(native, dnsimple, namecom, address1="Italian Street, 10")


async def test_a_namecom_contact_reads_the_same_natively_and_through_dnsimple(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create_contact(client, team)
    await client.post("/api/v1/domains", json={"name": "namecom-made.nl"}, headers=team.headers)
    person = namecom_contact(email="nc@example.com", address1="500 Fifth Avenue")
    response = await client.post(
        set_contacts_url("namecom-made.nl"),
        json={"contacts": dict.fromkeys(("registrant", "admin", "tech", "billing"), person)},
        auth=auth(team),
    )
    assert response.status_code == 200, response.text
    namecom = response.json()["contacts"]["registrant"]
    domain = await client.get("/api/v1/domains/namecom-made.nl", headers=team.headers)
    handle = domain.json()["data"]["contacts"]["owner"]
    native = (await client.get(f"/api/v1/contacts/{handle}", headers=team.headers)).json()["data"]
    assert native["email"] == "nc@example.com"
    dnsimple = await dnsimple_by_email(client, team, "nc@example.com")
    assert_same_person(native, dnsimple, namecom, address1="500 Fifth Avenue")
