"""``metadata[key]=value`` list filters are capped at the keys one contact can hold: more is a
422 naming ``metadata``, not a query too large for the database (a 500 on SQLite before)."""

from __future__ import annotations

import httpx

from nichandle.contacts.metadata import MAX_KEYS
from tests.conftest import Team, create_contact
from tests.dialects.native.helpers import CONTACTS, field_errors, list_handles


async def test_as_many_filters_as_a_contact_has_keys_still_find_it(
    client: httpx.AsyncClient, team: Team
) -> None:
    full = {f"k{n}": f"v{n}" for n in range(MAX_KEYS)}
    wanted = await create_contact(client, team, metadata=full)
    await create_contact(client, team, email="other@example.com", metadata={"k0": "v0"})
    filters = {f"metadata[{key}]": value for key, value in full.items()}
    assert await list_handles(client, team, **filters) == [wanted["handle"]]


async def test_more_filters_than_a_contact_can_hold_keys_are_a_422_naming_metadata(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create_contact(client, team)
    for count in (1000, MAX_KEYS + 1):
        params = {f"metadata[k{n}]": "v" for n in range(count)}
        response = await client.get(CONTACTS, params=params, headers=team.headers)
        assert list(field_errors(response)) == ["metadata"]
        assert f"at most {MAX_KEYS}" in field_errors(response)["metadata"][0]


async def test_one_key_repeated_is_one_filter(client: httpx.AsyncClient, team: Team) -> None:
    # The last value of a repeated key wins, as before; repeats are not counted against the cap.
    wanted = await create_contact(client, team, metadata={"env": "prod"})
    params = [("metadata[env]", "test")] * 1000 + [("metadata[env]", "prod")]
    response = await client.get(CONTACTS, params=params, headers=team.headers)
    assert response.status_code == 200, response.text
    assert [c["handle"] for c in response.json()["data"]] == [wanted["handle"]]
