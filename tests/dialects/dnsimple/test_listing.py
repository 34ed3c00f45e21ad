"""DNSimple /v2 contact lists: pagination as the fixtures show it, and DNSimple's sort syntax."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Team
from tests.dialects.dnsimple.helpers import (
    assert_same_shape,
    contacts_url,
    create,
    errors_of,
    fixture_body,
)


async def listing(client: httpx.AsyncClient, team: Team, **params: Any) -> dict[str, Any]:
    response = await client.get(contacts_url(team), params=params, headers=team.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == ["data", "pagination"]
    return body


def ids(body: dict[str, Any]) -> list[int]:
    return [contact["id"] for contact in body["data"]]


async def test_pages_match_the_pagination_fixtures(client: httpx.AsyncClient, team: Team) -> None:
    made = [(await create(client, team, label=f"c{n}"))["id"] for n in range(5)]
    pages = [await listing(client, team, page=n, per_page=2) for n in (1, 2, 3)]
    for number, page in enumerate(pages, start=1):
        fixture = fixture_body(f"pages-{number}of3.http")
        assert page["pagination"] == fixture["pagination"]
        assert len(page["data"]) == len(fixture["data"])
    assert [i for page in pages for i in ids(page)] == made


async def test_default_page_is_30_and_the_empty_list_has_one_page(
    client: httpx.AsyncClient, team: Team
) -> None:
    empty = await listing(client, team)
    assert empty == {
        "data": [],
        "pagination": {"current_page": 1, "per_page": 30, "total_entries": 0, "total_pages": 1},
    }
    await create(client, team)
    assert_same_shape(await listing(client, team), fixture_body("listContacts/success.http"))


async def test_per_page_goes_up_to_100(client: httpx.AsyncClient, team: Team) -> None:
    assert (await listing(client, team, per_page=100))["pagination"]["per_page"] == 100
    response = await client.get(contacts_url(team), params={"per_page": 101}, headers=team.headers)
    assert errors_of(response) == {"per_page": ["must be between 1 and 100"]}


async def test_a_page_past_the_end_is_empty(client: httpx.AsyncClient, team: Team) -> None:
    await create(client, team)
    body = await listing(client, team, page=5)
    assert body["data"] == []
    assert body["pagination"]["current_page"] == 5
    assert body["pagination"]["total_pages"] == 1


async def test_sort_by_label_then_id_descending(client: httpx.AsyncClient, team: Team) -> None:
    b1 = (await create(client, team, label="b"))["id"]
    a1 = (await create(client, team, label="a"))["id"]
    b2 = (await create(client, team, label="b"))["id"]
    unlabelled = (await create(client, team, label=...))["id"]
    body = await listing(client, team, sort="label:asc,id:desc")
    # An unset label sorts as "" on both databases: first ascending.
    assert ids(body) == [unlabelled, a1, b2, b1]
    assert ids(await listing(client, team, sort="label:desc,id:asc")) == [b1, b2, a1, unlabelled]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("id:asc", [0, 1, 2]),
        ("id:desc", [2, 1, 0]),
        ("email:asc", [1, 2, 0]),
        ("email:desc", [0, 2, 1]),
        (None, [0, 1, 2]),
        # Fields DNSimple can't sort by are ignored, like unknown ones.
        ("last_name:desc", [0, 1, 2]),
        ("bogus:asc", [0, 1, 2]),
    ],
)
async def test_sort_by_id_and_email(
    client: httpx.AsyncClient, team: Team, sort: str | None, order: list[int]
) -> None:
    made = [
        (await create(client, team, email=email, last_name=name))["id"]
        for email, name in (("c@example.com", "A"), ("a@example.com", "B"), ("b@example.com", "C"))
    ]
    params = {"sort": sort} if sort else {}
    assert ids(await listing(client, team, **params)) == [made[i] for i in order]


async def test_a_sort_direction_other_than_asc_or_desc_is_a_400(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.get(contacts_url(team), params={"sort": "id:up"}, headers=team.headers)
    assert list(errors_of(response)) == ["sort"]
