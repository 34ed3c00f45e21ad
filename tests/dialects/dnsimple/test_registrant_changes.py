"""DNSimple /v2 registrant changes: the fixtures' shapes, 202 pending and 201 applied, check,
list filters, cancel, and errors in DNSimple's format (docs/registrant-change.md)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Team, designated_agent
from tests.dialects.dnsimple.helpers import (
    assert_same_shape,
    create,
    fixture_body,
    fixture_status_and_body,
    message_of,
)
from tests.dialects.dnsimple.test_domains import add_domain


def url(team: Team, tail: str = "") -> str:
    return f"/v2/{team.id}/registrar/registrant_changes{tail}"


async def start(
    client: httpx.AsyncClient, team: Team, domain: str | int, contact: int
) -> httpx.Response:
    body = {"domain_id": domain, "contact_id": contact, "extended_attributes": {}}
    return await client.post(url(team), json=body, headers=team.headers)


async def registrant_and_other(
    client: httpx.AsyncClient, team: Team, name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A domain whose registrant is the team's default contact, and another person."""
    default = await create(client, team)
    other = await create(client, team, email="new-owner@example.com", first_name="Other")
    await add_domain(client, team, name)
    return default, other


async def test_a_gtld_change_is_new_until_both_confirm_in_the_fixtures_shape(
    client: httpx.AsyncClient, team: Team
) -> None:
    default, other = await registrant_and_other(client, team, "dnsimple-cor.com")
    check = await client.post(
        url(team, "/check"),
        json={"domain_id": "dnsimple-cor.com", "contact_id": other["id"]},
        headers=team.headers,
    )
    assert check.status_code == 200, check.text
    assert_same_shape(check.json(), fixture_body("checkRegistrantChange/success.http"))
    assert check.json()["data"]["registry_owner_change"] is True

    response = await start(client, team, "dnsimple-cor.com", other["id"])
    status, expected = fixture_status_and_body("createRegistrantChange/success.http")
    assert response.status_code == status == 202, response.text
    assert_same_shape(response.json(), expected)
    change = response.json()["data"]
    assert (change["state"], change["contact_id"], change["account_id"]) == (
        "new",
        other["id"],
        team.id,
    )
    assert change["irt_lock_lifted_by"] is None
    # The domain keeps its registrant until both confirm.
    domain = await client.get(f"/v2/{team.id}/domains/dnsimple-cor.com", headers=team.headers)
    assert domain.json()["data"]["registrant_id"] == default["id"]

    read = await client.get(url(team, f"/{change['id']}"), headers=team.headers)
    assert_same_shape(read.json(), fixture_body("getRegistrantChange/success.http"))
    assert read.json()["data"] == change
    listed = await client.get(url(team), params={"state": "new"}, headers=team.headers)
    assert_same_shape(listed.json(), fixture_body("listRegistrantChanges/success.http"))
    assert [c["id"] for c in listed.json()["data"]] == [change["id"]]
    for params in ({"state": "completed"}, {"contact_id": default["id"]}, {"domain_id": "999999"}):
        other_list = await client.get(url(team), params=params, headers=team.headers)
        assert other_list.json()["data"] == [], params
    by_contact = await client.get(
        url(team), params={"contact_id": other["id"]}, headers=team.headers
    )
    assert [c["id"] for c in by_contact.json()["data"]] == [change["id"]]

    deleted = await client.delete(url(team, f"/{change['id']}"), headers=team.headers)
    assert deleted.status_code == 204
    again = await client.delete(url(team, f"/{change['id']}"), headers=team.headers)
    assert "cancelled" in message_of(again, 400)
    cancelled = await client.get(url(team), params={"state": "cancelled"}, headers=team.headers)
    assert [c["state"] for c in cancelled.json()["data"]] == ["cancelled"]


async def test_applied_at_once_is_201_completed_with_the_lock_date(
    client: httpx.AsyncClient, team: Team
) -> None:
    await designated_agent(client, team.headers)
    _default, other = await registrant_and_other(client, team, "dnsimple-agent.com")
    response = await start(client, team, "dnsimple-agent.com", other["id"])
    assert response.status_code == 201, response.text
    change = response.json()["data"]
    assert change["state"] == "completed"
    assert change["registry_owner_change"] is True
    assert change["irt_lock_lifted_by"] is not None
    domain = await client.get(f"/v2/{team.id}/domains/dnsimple-agent.com", headers=team.headers)
    assert domain.json()["data"]["registrant_id"] == other["id"]


async def test_a_cctld_or_the_same_person_is_completed_without_a_lock(
    client: httpx.AsyncClient, team: Team
) -> None:
    _default, other = await registrant_and_other(client, team, "dnsimple.nl")
    response = await start(client, team, "dnsimple.nl", other["id"])
    assert response.status_code == 201, response.text
    change = response.json()["data"]
    assert (change["state"], change["irt_lock_lifted_by"]) == ("completed", None)
    # The same person under another id, on a gTLD: no change of registrant for the registry.
    await add_domain(client, team, "dnsimple-twin.com")
    twin = await create(client, team)  # the default's details again (DNSimple never dedups)
    response = await start(client, team, "dnsimple-twin.com", twin["id"])
    assert response.status_code == 201, response.text
    change = response.json()["data"]
    assert (change["state"], change["registry_owner_change"]) == ("completed", False)
    assert change["irt_lock_lifted_by"] is None


async def test_errors_are_dnsimples(client: httpx.AsyncClient, team: Team) -> None:
    default, other = await registrant_and_other(client, team, "dnsimple-errors.com")
    status, expected = fixture_status_and_body("checkRegistrantChange/error-contactnotfound.http")
    missing_contact = await client.post(
        url(team, "/check"),
        json={"domain_id": "dnsimple-errors.com", "contact_id": 999999},
        headers=team.headers,
    )
    assert missing_contact.status_code == status
    assert missing_contact.json() == {"message": "Contact `999999` not found"}
    assert expected["message"].startswith("Contact `")
    missing_domain = await client.post(
        url(team, "/check"),
        json={"domain_id": "nope.com", "contact_id": other["id"]},
        headers=team.headers,
    )
    assert missing_domain.json() == {"message": "Domain `nope.com` not found"}
    assert (await start(client, team, "nope.com", other["id"])).status_code == 404
    same = await start(client, team, "dnsimple-errors.com", default["id"])
    assert "already" in message_of(same, 400)
    unknown = await client.get(url(team, "/424242"), headers=team.headers)
    assert unknown.status_code == 404
    bad_state = await client.get(url(team), params={"state": "done"}, headers=team.headers)
    assert bad_state.status_code == 400
