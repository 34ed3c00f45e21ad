"""name.com phones: a number without its area code ("555-1234" in the US) or with an extension
is a 400 naming the role's field, never stored as something no one can dial."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Team
from tests.dialects.namecom.helpers import (
    DOMAINS,
    add_default_contact,
    all_roles,
    auth,
    contact_count,
    create_domain,
    error,
    get_domain,
    namecom_contact,
    set_contacts_url,
)


async def set_contacts(
    client: httpx.AsyncClient, team: Team, name: str, body: object
) -> httpx.Response:
    return await client.post(set_contacts_url(name), json=body, auth=auth(team))


async def domain(client: httpx.AsyncClient, team: Team, name: str) -> None:
    await add_default_contact(client, team)
    await create_domain(client, team, name)


@pytest.mark.parametrize("phone", ["555-1234", "+15551234"])
async def test_set_contacts_with_a_local_only_phone_is_400_naming_it(
    client: httpx.AsyncClient, team: Team, phone: str
) -> None:
    await domain(client, team, "local.com")
    before, contacts = (
        await get_domain(client, team, "local.com"),
        await contact_count(client, team),
    )
    body = all_roles(registrant=namecom_contact(phone=phone))
    body = error(await set_contacts(client, team, "local.com", body), 400)
    assert body["message"] == "Invalid argument"
    assert body["details"].startswith("contacts.registrant.phone: is a local number only")
    assert "area code" in body["details"]
    assert await get_domain(client, team, "local.com") == before
    assert await contact_count(client, team) == contacts


async def test_local_only_fax_is_400_naming_the_role(client: httpx.AsyncClient, team: Team) -> None:
    await domain(client, team, "fax.com")
    body = all_roles(billing=namecom_contact(fax="555 7654"))
    details = error(await set_contacts(client, team, "fax.com", body), 400)["details"]
    assert details.startswith("contacts.billing.fax: is a local number only")


async def test_create_domain_with_a_local_only_phone_is_400(
    client: httpx.AsyncClient, team: Team
) -> None:
    await add_default_contact(client, team)
    response = await client.post(
        DOMAINS,
        json={
            "domain": {
                "domainName": "made.com",
                "contacts": {"tech": namecom_contact(phone="555-1234")},
            }
        },
        auth=auth(team),
    )
    details = error(response, 400)["details"]
    assert details.startswith("contacts.tech.phone: is a local number only")


@pytest.mark.parametrize("phone", ["+15551234567", "+18001234567", "+1.8001234567"])
async def test_the_references_own_numbers_stay_accepted(
    client: httpx.AsyncClient, team: Team, phone: str
) -> None:
    await domain(client, team, "whole.com")
    response = await set_contacts(
        client, team, "whole.com", all_roles(admin=namecom_contact(phone=phone))
    )
    assert response.status_code == 200, response.text
    assert response.json()["contacts"]["admin"]["phone"] == phone.replace(".", "")


async def test_phone_extension_is_400_not_dropped(client: httpx.AsyncClient, team: Team) -> None:
    await domain(client, team, "ext.com")
    body = all_roles(registrant=namecom_contact(phone="+1 555 123 4567 x89"))
    details = error(await set_contacts(client, team, "ext.com", body), 400)["details"]
    assert details.startswith("contacts.registrant.phone: has an extension (x89)")
