"""DNSimple /v2 tenancy: a token sees only its own accounts; everything else is a 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.conftest import Team
from tests.dialects.dnsimple.helpers import (
    contact_body,
    contact_url,
    contacts_url,
    create,
    message_of,
)

Call = Callable[[httpx.AsyncClient, str, Team], Awaitable[httpx.Response]]

# Each /v2 account endpoint, for an account path segment and (where needed) a contact id.
ACCOUNT_ENDPOINTS: dict[
    str, Callable[[httpx.AsyncClient, str, int, Team], Awaitable[httpx.Response]]
] = {
    "list": lambda c, a, i, t: c.get(f"/v2/{a}/contacts", headers=t.headers),
    "create": lambda c, a, i, t: c.post(
        f"/v2/{a}/contacts", json=contact_body(), headers=t.headers
    ),
    "get": lambda c, a, i, t: c.get(f"/v2/{a}/contacts/{i}", headers=t.headers),
    "update": lambda c, a, i, t: c.patch(
        f"/v2/{a}/contacts/{i}", json={"label": "hijacked"}, headers=t.headers
    ),
    "delete": lambda c, a, i, t: c.delete(f"/v2/{a}/contacts/{i}", headers=t.headers),
    "domains": lambda c, a, i, t: c.get(f"/v2/{a}/domains", headers=t.headers),
    "domain": lambda c, a, i, t: c.get(f"/v2/{a}/domains/taken.test", headers=t.headers),
}


@pytest.mark.parametrize("endpoint", list(ACCOUNT_ENDPOINTS))
async def test_another_accounts_id_in_the_path_is_a_404(
    client: httpx.AsyncClient, team: Team, other_team: Team, endpoint: str
) -> None:
    await create(client, other_team)
    theirs = await create(client, other_team, label="theirs")
    response = await ACCOUNT_ENDPOINTS[endpoint](client, str(other_team.id), theirs["id"], team)
    assert message_of(response, 404) == f"Account `{other_team.id}` not found"
    still = await client.get(contact_url(other_team, theirs["id"]), headers=other_team.headers)
    assert still.json()["data"] == theirs
    listed = await client.get(contacts_url(other_team), headers=other_team.headers)
    assert listed.json()["pagination"]["total_entries"] == 2


@pytest.mark.parametrize("account", ["0", "-1", "99999999999999999999", "abc", "1.0"])
async def test_accounts_that_cannot_exist_are_404s(
    client: httpx.AsyncClient, team: Team, account: str
) -> None:
    for call in ACCOUNT_ENDPOINTS.values():
        response = await call(client, account, 1, team)
        assert message_of(response, 404) == f"Account `{account}` not found"


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
async def test_another_accounts_contact_id_under_my_account_is_a_404(
    client: httpx.AsyncClient, team: Team, other_team: Team, method: str
) -> None:
    await create(client, team)
    await create(client, other_team)
    theirs = await create(client, other_team, label="theirs")
    url = contact_url(team, theirs["id"])
    kwargs = {"json": {"label": "hijacked"}} if method == "patch" else {}
    response = await client.request(method.upper(), url, headers=team.headers, **kwargs)
    assert message_of(response, 404) == f"Contact `{theirs['id']}` not found"
    still = await client.get(contact_url(other_team, theirs["id"]), headers=other_team.headers)
    assert still.json()["data"] == theirs


async def test_lists_show_only_the_accounts_own_contacts(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    mine = await create(client, team)
    await create(client, other_team)
    listed = await client.get(contacts_url(team), headers=team.headers)
    assert [c["id"] for c in listed.json()["data"]] == [mine["id"]]
    registrant = await client.get(
        f"/v2/{team.id}/domains", params={"registrant_id": mine["id"]}, headers=other_team.headers
    )
    assert registrant.status_code == 404
