"""Where verifications start: every way a registrant is set (a native role change, name.com's
setContacts, the bulk reassign, a new default standing in), each with its reason; what is
exempt (ccTLDs, the settings' lists); a deleted domain starts nothing."""

from __future__ import annotations

import httpx
from pydantic import SecretStr
from sqlalchemy import select

from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.events.models import OutboxEvent
from nichandle.settings import Settings
from nichandle.verification.rules import Rules
from tests.conftest import Team, create_contact, designated_agent
from tests.dialects.namecom.helpers import all_roles, auth, namecom_contact, set_contacts_url
from tests.verification.test_end_to_end import add_domain, address


async def started(db: Database, team: Team) -> list[tuple[str, str, list[str]]]:
    """(email, reason, domains) of each verification started in the team, in order."""
    async with unit_of_work(db, write=False) as session:
        query = select(OutboxEvent.payload).where(
            OutboxEvent.account_id == team.id,
            OutboxEvent.type == "contact.verification.started",
        )
        found = await session.scalars(query.order_by(OutboxEvent.id))
        return [(p["email"], p["reason"], p["domains"]) for p in found]


async def test_every_way_of_setting_a_registrant_starts_a_verification(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    first, second, third, fourth = (address(tag) for tag in ("first", "patch", "nc", "bulk"))
    # Each new registrant applies at once, as with a Designated Agent (docs/registrant-change.md).
    await designated_agent(client, team.headers)
    original = await create_contact(client, team, email=first)  # the team's default
    await add_domain(client, team, "roles-a.com", original["handle"])
    # A role change in the native dialect.
    patched = await create_contact(client, team, email=second)
    response = await client.patch(
        "/api/v1/domains/roles-a.com",
        json={"contacts": {"owner": patched["handle"]}},
        headers=team.headers,
    )
    assert response.status_code == 200, response.text
    # name.com's setContacts with new details for the registrant.
    body = all_roles(registrant=namecom_contact(email=third, firstName="Nadia"))
    response = await client.post(set_contacts_url("roles-a.com"), json=body, auth=auth(team))
    assert response.status_code == 200, response.text
    # The bulk reassign moves a registrant too.
    target = await create_contact(client, team, email=fourth)
    third_handle = (await client.get("/api/v1/domains/roles-a.com", headers=team.headers)).json()[
        "data"
    ]["contacts"]["owner"]
    response = await client.post(
        f"/api/v1/contacts/{third_handle}/reassign",
        json={"to": target["handle"], "roles": ["owner"]},
        headers=team.headers,
    )
    assert response.status_code == 200, response.text

    assert await started(db, team) == [
        (first, "new_registration", ["roles-a.com"]),
        (second, "registrant_change", ["roles-a.com"]),
        (third, "registrant_change", ["roles-a.com"]),
        (fourth, "registrant_change", ["roles-a.com"]),
    ]


async def test_the_default_standing_in_and_a_new_default(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    old, new = address("old-default"), address("new-default")
    await create_contact(client, team, email=old)  # the default
    response = await client.post(
        "/api/v1/domains", json={"name": "by-default.org"}, headers=team.headers
    )
    assert response.status_code == 201, response.text
    successor = await create_contact(client, team, email=new)
    await designated_agent(client, team.headers)  # the change of registrant applies at once
    response = await client.patch(
        f"/api/v1/contacts/{successor['handle']}", json={"is_default": True}, headers=team.headers
    )
    assert response.status_code == 200, response.text
    assert await started(db, team) == [
        (old, "new_registration", ["by-default.org"]),
        (new, "registrant_change", ["by-default.org"]),
    ]


async def test_cctlds_deleted_domains_and_verified_addresses_start_nothing(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    email = address("quiet")
    owner = await create_contact(client, team, email=email)
    await add_domain(client, team, "quiet.nl", owner["handle"])
    await add_domain(client, team, "quiet.co.uk", owner["handle"])
    assert await started(db, team) == []
    await add_domain(client, team, "quiet.com", owner["handle"])
    response = await client.delete("/api/v1/domains/quiet.com", headers=team.headers)
    assert response.status_code == 204
    assert len(await started(db, team)) == 1
    verified = await client.post(f"/api/v1/contacts/{owner['handle']}/verify", headers=team.headers)
    assert verified.status_code == 200
    # Another contact of the account with the same address: verified already, nothing starts.
    same = await create_contact(client, team, email=email.upper(), first_name="Other")
    assert same["email_verified_at"] is not None
    await add_domain(client, team, "quiet.net", same["handle"])
    assert len(await started(db, team)) == 1


def test_the_settings_lists_move_tlds_in_and_out() -> None:
    rules = Rules.of(
        Settings(
            smtp_url=SecretStr("smtp://127.0.0.1:25"),
            verification_exempt_tlds=".Example, test",
            verification_required_tlds="co",
        )
    )
    assert [rules.needs_verification(tld) for tld in ("com", "nl", "co", "example", "test")] == [
        True,
        False,
        True,
        False,
        False,
    ]
