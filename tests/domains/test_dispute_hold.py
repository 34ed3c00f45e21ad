"""The dispute hold refuses every change of registrant of a held domain, from any write path;
the transfer-lock opt-out and the hold round-trip in the native dialect."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from nichandle.db.engine import Database
from nichandle.domains.models import Domain
from tests.conftest import Team, create_contact
from tests.dialects.dnsimple.helpers import contact_url as dnsimple_contact_url
from tests.dialects.dnsimple.helpers import create as dnsimple_create
from tests.dialects.dnsimple.helpers import message_of
from tests.dialects.namecom.helpers import all_roles, auth, namecom_contact, set_contacts_url

DOMAINS = "/api/v1/domains"
CONTACTS = "/api/v1/contacts"


async def held_domain(
    client: httpx.AsyncClient, team: Team, name: str = "held.com"
) -> dict[str, Any]:
    """The team's default contact as the registrant of ``name``, under a dispute hold."""
    registrant = await create_contact(client, team)
    response = await client.post(DOMAINS, json={"name": name}, headers=team.headers)
    assert response.status_code == 201, response.text
    response = await client.patch(
        f"{DOMAINS}/{name}", json={"dispute_hold": True}, headers=team.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["dispute_hold"] is True
    return registrant


def refusal(response: httpx.Response, name: str) -> str:
    assert response.status_code == 409, response.text
    body = response.json()
    assert f"`{name}`" in body["message"]
    assert "dispute hold" in body["message"]
    message: str = body["message"]
    return message


async def test_hold_and_opt_out_round_trip_with_time_and_actor(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    await create_contact(client, team)
    created = await client.post(DOMAINS, json={"name": "example.com"}, headers=team.headers)
    read = created.json()["data"]
    assert (read["dispute_hold"], read["transfer_lock_opt_out"]) == (False, False)
    assert read["transfer_lock_until"] is None
    response = await client.patch(
        f"{DOMAINS}/example.com",
        json={"dispute_hold": True, "transfer_lock_opt_out": True},
        headers=team.headers,
    )
    assert response.status_code == 200, response.text
    read = (await client.get(f"{DOMAINS}/example.com", headers=team.headers)).json()["data"]
    assert (read["dispute_hold"], read["transfer_lock_opt_out"]) == (True, True)
    async with db.reader_sessions() as session:
        domain = await session.scalar(select(Domain).where(Domain.name == "example.com"))
        assert domain is not None
        assert domain.transfer_lock_opt_out_at is not None
        assert domain.transfer_lock_opt_out_by is not None
        assert domain.transfer_lock_opt_out_by.startswith("token:")
    response = await client.patch(
        f"{DOMAINS}/example.com", json={"dispute_hold": "maybe"}, headers=team.headers
    )
    assert response.status_code == 422
    assert "dispute_hold" in response.json()["errors"]


async def test_email_change_of_a_held_registrant_is_refused_and_nothing_written(
    client: httpx.AsyncClient, team: Team
) -> None:
    registrant = await held_domain(client, team)
    url = f"{CONTACTS}/{registrant['handle']}"
    response = await client.patch(url, json={"email": "new@example.com"}, headers=team.headers)
    assert "(email)" in refusal(response, "held.com")
    contact = (await client.get(url, headers=team.headers)).json()["data"]
    assert contact["email"] == registrant["email"]
    # an address or phone edit is no change of registrant
    response = await client.patch(
        url, json={"address_city": "Rotterdam", "phone": "+31101234567"}, headers=team.headers
    )
    assert response.status_code == 200, response.text
    # lifted, the same edit goes through (a gTLD: pending both parties' confirmation)
    await client.patch(f"{DOMAINS}/held.com", json={"dispute_hold": False}, headers=team.headers)
    response = await client.patch(url, json={"email": "new@example.com"}, headers=team.headers)
    assert response.status_code == 202, response.text
    assert [c["domain"] for c in response.json()["registrant_changes"]] == ["held.com"]


async def test_declared_typo_fix_of_a_held_registrant_goes_through(
    client: httpx.AsyncClient, team: Team
) -> None:
    registrant = await held_domain(client, team)
    url = f"{CONTACTS}/{registrant['handle']}"
    fix = {"last_name": "Janssen", "typo_correction": True}
    response = await client.patch(url, json=fix, headers=team.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["last_name"] == "Janssen"
    assert "typo_correction" not in response.json()["data"]
    # not a typo fix: too large, or with an address change (native names stay immutable)
    for body in (
        {"last_name": "Pietersen", "typo_correction": True},
        {"last_name": "Jansen", "address_city": "Utrecht", "typo_correction": True},
        {"last_name": "Jansen"},
    ):
        response = await client.patch(url, json=body, headers=team.headers)
        assert response.status_code == 422, response.text
        assert "last_name" in response.json()["errors"]


async def test_pointing_a_held_registrant_elsewhere_is_refused_unless_same_identity(
    client: httpx.AsyncClient, team: Team
) -> None:
    registrant = await held_domain(client, team)
    other = await create_contact(client, team, email="other@example.com")
    url = f"{DOMAINS}/held.com"
    response = await client.patch(
        url, json={"contacts": {"owner": other["handle"]}}, headers=team.headers
    )
    assert "(email)" in refusal(response, "held.com")
    # a hold and a change of registrant in one request: the hold applies to it
    twin = await create_contact(client, team, address_city="Haarlem", allow_duplicate=True)
    read = (await client.get(url, headers=team.headers)).json()["data"]
    assert read["contacts"]["owner"] == registrant["handle"]
    response = await client.patch(
        url, json={"contacts": {"owner": twin["handle"]}}, headers=team.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["contacts"]["owner"] == twin["handle"]
    # the admin role is no registrant
    response = await client.patch(
        url, json={"contacts": {"admin": other["handle"]}}, headers=team.headers
    )
    assert response.status_code == 200, response.text


async def test_namecom_set_contacts_with_another_registrant_is_a_409_in_its_format(
    client: httpx.AsyncClient, team: Team
) -> None:
    await held_domain(client, team)
    body = all_roles(registrant=namecom_contact(email="someone.else@example.com"))
    response = await client.post(set_contacts_url("held.com"), json=body, auth=auth(team))
    assert response.status_code == 409, response.text
    assert response.json()["message"] == "Conflict"
    assert "held.com" in response.json()["details"]


async def test_bulk_reassign_touching_a_held_registrant_is_refused_whole(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create_contact(client, team)  # the default
    owner = await create_contact(client, team, email="owner@example.com")
    other = await create_contact(client, team, email="other@example.com")
    for name in ("free.com", "held.com"):
        body = {"name": name, "contacts": {"owner": owner["handle"]}}
        assert (await client.post(DOMAINS, json=body, headers=team.headers)).status_code == 201
    hold = {"dispute_hold": True}
    await client.patch(f"{DOMAINS}/held.com", json=hold, headers=team.headers)
    url = f"{CONTACTS}/{owner['handle']}/reassign"
    response = await client.post(url, json={"to": other["handle"]}, headers=team.headers)
    refusal(response, "held.com")
    free = (await client.get(f"{DOMAINS}/free.com", headers=team.headers)).json()["data"]
    assert free["contacts"]["owner"] == owner["handle"]  # one transaction: nothing moved
    body = {"to": other["handle"], "roles": ["admin"]}
    assert (await client.post(url, json=body, headers=team.headers)).status_code == 200


async def test_dnsimple_contact_email_change_of_a_held_registrant_is_its_400(
    client: httpx.AsyncClient, team: Team
) -> None:
    created = await dnsimple_create(client, team)  # the default: every domain's registrant
    assert (await client.post(DOMAINS, json={"name": "held.com"}, headers=team.headers)).is_success
    hold = {"dispute_hold": True}
    await client.patch(f"{DOMAINS}/held.com", json=hold, headers=team.headers)
    url = dnsimple_contact_url(team, created["id"])
    response = await client.patch(url, json={"email": "new@example.com"}, headers=team.headers)
    # DNSimple answers every conflict 400 with a message (as its refused deletes)
    assert "held.com" in message_of(response, 400)


async def test_another_default_standing_in_for_a_held_registrant_is_refused(
    client: httpx.AsyncClient, team: Team
) -> None:
    await held_domain(client, team)  # the registrant role left unset: the default stands in
    other = await create_contact(client, team, email="other@example.com")
    url = f"{CONTACTS}/{other['handle']}"
    response = await client.patch(url, json={"is_default": True}, headers=team.headers)
    assert "(email)" in refusal(response, "held.com")
    twin = await create_contact(client, team, address_city="Haarlem", allow_duplicate=True)
    url = f"{CONTACTS}/{twin['handle']}"
    response = await client.patch(url, json={"is_default": True}, headers=team.headers)
    assert response.status_code == 200, response.text
