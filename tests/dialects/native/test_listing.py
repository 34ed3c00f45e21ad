"""GET /api/v1/contacts: search, filters, sorting, paging and the page envelope."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Team, create_contact
from tests.dialects.native.helpers import CONTACTS, contact_url, field_errors, list_handles


async def make_contacts(client: httpx.AsyncClient, team: Team, count: int) -> list[str]:
    """``count`` distinct contacts, handles in creation order."""
    return [
        (await create_contact(client, team, email=f"person{i}@example.com"))["handle"]
        for i in range(count)
    ]


async def get_page(client: httpx.AsyncClient, team: Team, **params: Any) -> dict[str, Any]:
    response = await client.get(CONTACTS, params=params, headers=team.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"data", "links", "meta"}
    return body


def page_params(link: str | None) -> dict[str, str] | None:
    if link is None:
        return None
    url = httpx.URL(link)
    assert url.path == CONTACTS
    return dict(url.params)


async def test_listing_envelope_on_a_middle_page(client: httpx.AsyncClient, team: Team) -> None:
    handles = await make_contacts(client, team, 5)
    body = await get_page(client, team, page=2, per_page=2)
    assert [c["handle"] for c in body["data"]] == handles[2:4]
    assert body["meta"] == {"current_page": 2, "last_page": 3, "per_page": 2, "total": 5}
    links = body["links"]
    assert set(links) == {"first", "last", "prev", "next"}
    assert page_params(links["first"]) == {"page": "1", "per_page": "2"}
    assert page_params(links["last"]) == {"page": "3", "per_page": "2"}
    assert page_params(links["prev"]) == {"page": "1", "per_page": "2"}
    assert page_params(links["next"]) == {"page": "3", "per_page": "2"}


async def test_first_page_has_no_prev_and_last_page_no_next(
    client: httpx.AsyncClient, team: Team
) -> None:
    handles = await make_contacts(client, team, 5)
    first = await get_page(client, team, page=1, per_page=2)
    assert first["links"]["prev"] is None
    assert page_params(first["links"]["next"]) == {"page": "2", "per_page": "2"}
    last = await get_page(client, team, page=3, per_page=2)
    assert [c["handle"] for c in last["data"]] == handles[4:]
    assert last["links"]["next"] is None
    assert page_params(last["links"]["prev"]) == {"page": "2", "per_page": "2"}
    assert last["meta"]["current_page"] == 3


async def test_page_past_the_end_is_empty(client: httpx.AsyncClient, team: Team) -> None:
    await make_contacts(client, team, 3)
    body = await get_page(client, team, page=5, per_page=2)
    assert body["data"] == []
    assert body["meta"] == {"current_page": 5, "last_page": 2, "per_page": 2, "total": 3}


async def test_a_search_counts_its_matches_on_every_page(
    client: httpx.AsyncClient, team: Team
) -> None:
    handles = await make_contacts(client, team, 5)
    await create_contact(client, team, email="someone.else@example.com")
    middle = await get_page(client, team, query="person", page=2, per_page=2)
    assert [c["handle"] for c in middle["data"]] == handles[2:4]
    assert middle["meta"] == {"current_page": 2, "last_page": 3, "per_page": 2, "total": 5}
    past = await get_page(client, team, query="person", page=9, per_page=2)
    assert past["data"] == []
    assert past["meta"] == {"current_page": 9, "last_page": 3, "per_page": 2, "total": 5}


async def test_pages_cover_every_contact_once(client: httpx.AsyncClient, team: Team) -> None:
    handles = await make_contacts(client, team, 7)
    seen = []
    for page in (1, 2, 3):
        seen += await list_handles(client, team, page=page, per_page=3)
    assert seen == handles


async def test_links_keep_the_filters(client: httpx.AsyncClient, team: Team) -> None:
    await make_contacts(client, team, 3)
    body = await get_page(client, team, query="person", sort="-id", per_page=1)
    assert page_params(body["links"]["next"]) == {
        "query": "person",
        "sort": "-id",
        "page": "2",
        "per_page": "1",
    }


async def test_empty_listing_has_one_empty_page(client: httpx.AsyncClient, team: Team) -> None:
    body = await get_page(client, team)
    assert body["data"] == []
    assert body["meta"] == {"current_page": 1, "last_page": 1, "per_page": 25, "total": 0}
    assert body["links"]["prev"] is None
    assert body["links"]["next"] is None


async def test_default_page_size_is_25(client: httpx.AsyncClient, team: Team) -> None:
    await make_contacts(client, team, 26)
    body = await get_page(client, team)
    assert len(body["data"]) == 25
    assert body["meta"]["per_page"] == 25
    assert body["meta"]["last_page"] == 2


@pytest.mark.parametrize("per_page", [1, 100])
async def test_per_page_bounds_are_accepted(
    client: httpx.AsyncClient, team: Team, per_page: int
) -> None:
    await make_contacts(client, team, 2)
    body = await get_page(client, team, per_page=per_page)
    assert body["meta"]["per_page"] == per_page
    assert len(body["data"]) == min(per_page, 2)


@pytest.mark.parametrize("per_page", [0, 101, -1])
async def test_per_page_outside_1_to_100_is_refused(
    client: httpx.AsyncClient, team: Team, per_page: int
) -> None:
    response = await client.get(CONTACTS, params={"per_page": per_page}, headers=team.headers)
    assert list(field_errors(response)) == ["per_page"]


async def test_page_below_one_is_refused(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.get(CONTACTS, params={"page": 0}, headers=team.headers)
    assert list(field_errors(response)) == ["page"]


async def search_fixture(client: httpx.AsyncClient, team: Team) -> dict[str, str]:
    """Contacts that differ in exactly one searchable field each; name -> handle."""
    base = {"first_name": "Ann", "last_name": "Smith", "address_city": "Amsterdam"}
    made = {
        "first": await create_contact(
            client, team, **{**base, "first_name": "Zebulon"}, email="a@example.com"
        ),
        "last": await create_contact(
            client, team, **{**base, "last_name": "Quixote"}, email="b@example.com"
        ),
        "company": await create_contact(
            client, team, **base, company_name="Wonka Industries", email="c@example.com"
        ),
        "email": await create_contact(client, team, **base, email="xylophone@example.com"),
        "city": await create_contact(
            client, team, **{**base, "address_city": "Rotterdam"}, email="d@example.com"
        ),
    }
    return {name: contact["handle"] for name, contact in made.items()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Zebulon", "first"),
        ("quixote", "last"),
        ("WONKA", "company"),
        ("xyloph", "email"),
        ("rotter", "city"),
    ],
)
async def test_query_searches_names_company_email_and_city(
    client: httpx.AsyncClient, team: Team, query: str, expected: str
) -> None:
    handles = await search_fixture(client, team)
    assert await list_handles(client, team, query=query) == [handles[expected]]


async def test_query_searches_the_handle(client: httpx.AsyncClient, team: Team) -> None:
    handles = await search_fixture(client, team)
    wanted = handles["city"]
    assert await list_handles(client, team, query=wanted.upper()) == [wanted]


async def test_query_matches_every_contact_containing_it(
    client: httpx.AsyncClient, team: Team
) -> None:
    handles = await search_fixture(client, team)
    found = await list_handles(client, team, query="amsterdam")
    assert set(found) == set(handles.values()) - {handles["city"]}


@pytest.mark.parametrize("query", ["nobody-has-this", "%", "_", "\\"])
async def test_query_matching_nothing_returns_an_empty_page(
    client: httpx.AsyncClient, team: Team, query: str
) -> None:
    await search_fixture(client, team)
    body = await get_page(client, team, query=query)
    assert body["data"] == []
    assert body["meta"]["total"] == 0


@pytest.mark.parametrize("query", ["a/s", "100%", "_x", "/"])
async def test_query_takes_like_wildcards_and_the_escape_character_literally(
    client: httpx.AsyncClient, team: Team, query: str
) -> None:
    literal = await create_contact(
        client, team, company_name="Nordisk A/S 100% _x", email="literal@example.com"
    )
    # Would match "a/s", "100%" and "_x" if "/", "%" or "_" were taken as LIKE syntax.
    await create_contact(client, team, company_name="Nordisk AS 1000 yx", email="near@example.com")
    assert await list_handles(client, team, query=query) == [literal["handle"]]


async def test_query_with_a_newline_matches_nothing_across_two_fields(
    client: httpx.AsyncClient, team: Team
) -> None:
    # search_text joins the fields with newlines: "Ann\nSmith" must not find Ann Smith.
    await create_contact(client, team, first_name="Ann", last_name="Smith", email="n@example.com")
    assert await list_handles(client, team, query="ann") != []
    body = await get_page(client, team, query="ann\nsmith")
    assert body["data"] == []
    assert body["meta"]["total"] == 0


async def test_query_follows_updates_and_deletes(client: httpx.AsyncClient, team: Team) -> None:
    await create_contact(client, team, email="default@example.com")  # the last can't be deleted
    contact = await create_contact(client, team, email="xylophone@example.com")
    handle = contact["handle"]
    changes = {"email": "marimba@example.com", "address_city": "Groningen"}
    response = await client.patch(contact_url(handle), json=changes, headers=team.headers)
    assert response.status_code == 200, response.text
    assert await list_handles(client, team, query="xyloph") == []
    assert await list_handles(client, team, query="marimba") == [handle]
    assert await list_handles(client, team, query="groning") == [handle]
    response = await client.delete(contact_url(handle), headers=team.headers)
    assert response.status_code == 204, response.text
    assert await list_handles(client, team, query="marimba") == []


async def test_parent_handle_filters_to_sub_contacts(client: httpx.AsyncClient, team: Team) -> None:
    parent = await create_contact(client, team, email="parent@example.com")
    other_parent = await create_contact(client, team, email="other@example.com")
    first = await create_contact(
        client, team, email="child1@example.com", parent_handle=parent["handle"]
    )
    second = await create_contact(
        client, team, email="child2@example.com", parent_handle=parent["handle"]
    )
    await create_contact(
        client, team, email="child3@example.com", parent_handle=other_parent["handle"]
    )
    found = await list_handles(client, team, parent_handle=parent["handle"])
    assert found == [first["handle"], second["handle"]]


async def test_unknown_parent_handle_filter_returns_nothing(
    client: httpx.AsyncClient, team: Team
) -> None:
    await make_contacts(client, team, 2)
    assert await list_handles(client, team, parent_handle="nosuchhandle") == []


async def sort_fixture(client: httpx.AsyncClient, team: Team) -> dict[str, str]:
    """last name -> handle, created in the order b, c, a (a is the team default)."""
    made = {}
    for last_name, email in (("Bakker", "z@example.com"), ("Cohen", "x@example.com")):
        made[last_name] = (await create_contact(client, team, last_name=last_name, email=email))[
            "handle"
        ]
    made["Aalders"] = (
        await create_contact(
            client, team, last_name="Aalders", email="y@example.com", is_default=True
        )
    )["handle"]
    return made


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        (None, ["Bakker", "Cohen", "Aalders"]),
        ("id", ["Bakker", "Cohen", "Aalders"]),
        ("-id", ["Aalders", "Cohen", "Bakker"]),
        ("last_name", ["Aalders", "Bakker", "Cohen"]),
        ("-last_name", ["Cohen", "Bakker", "Aalders"]),
        ("email", ["Cohen", "Aalders", "Bakker"]),
        ("-email", ["Bakker", "Aalders", "Cohen"]),
        ("created_at", ["Bakker", "Cohen", "Aalders"]),
        ("-created_at", ["Aalders", "Cohen", "Bakker"]),
        ("-is_default", ["Aalders", "Bakker", "Cohen"]),
        ("-is_default,-last_name", ["Aalders", "Cohen", "Bakker"]),
        ("is_default,-id", ["Cohen", "Bakker", "Aalders"]),
    ],
)
async def test_sort_orders_by_the_fields_given(
    client: httpx.AsyncClient, team: Team, sort: str | None, order: list[str]
) -> None:
    handles = await sort_fixture(client, team)
    params = {} if sort is None else {"sort": sort}
    assert await list_handles(client, team, **params) == [handles[name] for name in order]


async def test_sort_by_handle(client: httpx.AsyncClient, team: Team) -> None:
    handles = list((await sort_fixture(client, team)).values())
    assert await list_handles(client, team, sort="handle") == sorted(handles)
    assert await list_handles(client, team, sort="-handle") == sorted(handles, reverse=True)


async def test_a_search_is_sorted_as_asked(client: httpx.AsyncClient, team: Team) -> None:
    # A filtered page sorts its matches by their own keys (on PostgreSQL, inside the matches'
    # CTE): the order must be the sort's, with id breaking ties.
    handles = await sort_fixture(client, team)
    await create_contact(client, team, last_name="Zwart", email="other@elsewhere.org")
    by_name = [handles["Aalders"], handles["Bakker"], handles["Cohen"]]
    assert await list_handles(client, team, query="example.com", sort="last_name") == by_name
    assert await list_handles(client, team, query="example.com", sort="-email") == [
        handles["Bakker"],
        handles["Aalders"],
        handles["Cohen"],
    ]
    page_two = await list_handles(
        client, team, query="example.com", sort="-last_name", page=2, per_page=2
    )
    assert page_two == [handles["Aalders"]]


@pytest.mark.parametrize("sort", ["-LAST_NAME", "-Last_Name", " -last_name "])
async def test_sort_is_case_insensitive(client: httpx.AsyncClient, team: Team, sort: str) -> None:
    handles = await sort_fixture(client, team)
    expected = [handles["Cohen"], handles["Bakker"], handles["Aalders"]]
    assert await list_handles(client, team, sort=sort) == expected


@pytest.mark.parametrize("sort", ["bogus,-last_name", "-last_name,password", "-first_name"])
async def test_unknown_sort_fields_are_ignored(
    client: httpx.AsyncClient, team: Team, sort: str
) -> None:
    handles = await sort_fixture(client, team)
    expected_names = ["Bakker", "Cohen", "Aalders"]
    if "last_name" in sort:
        expected_names = ["Cohen", "Bakker", "Aalders"]
    expected = [handles[name] for name in expected_names]
    assert await list_handles(client, team, sort=sort) == expected


async def test_sort_by_five_fields_is_accepted(client: httpx.AsyncClient, team: Team) -> None:
    handles = await sort_fixture(client, team)
    found = await list_handles(client, team, sort="-is_default,last_name,email,handle,id")
    assert found == [handles["Aalders"], handles["Bakker"], handles["Cohen"]]


async def test_sort_by_more_than_five_fields_is_refused(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.get(
        CONTACTS,
        params={"sort": "id,handle,email,last_name,created_at,is_default"},
        headers=team.headers,
    )
    assert list(field_errors(response)) == ["sort"]


async def test_metadata_filter_matches_exactly(client: httpx.AsyncClient, team: Team) -> None:
    prod = await create_contact(client, team, email="a@example.com", metadata={"env": "prod"})
    for i, value in enumerate(["production", "pro", "prod ", " prod"]):
        await create_contact(client, team, email=f"other{i}@example.com", metadata={"env": value})
    await create_contact(client, team, email="none@example.com")
    await create_contact(client, team, email="key@example.com", metadata={"envx": "prod"})
    assert await list_handles(client, team, **{"metadata[env]": "prod"}) == [prod["handle"]]


async def test_metadata_filter_is_case_sensitive(client: httpx.AsyncClient, team: Team) -> None:
    await create_contact(client, team, email="a@example.com", metadata={"env": "prod"})
    upper = await create_contact(client, team, email="b@example.com", metadata={"env": "PROD"})
    assert await list_handles(client, team, **{"metadata[env]": "PROD"}) == [upper["handle"]]


async def test_several_metadata_filters_must_all_match(
    client: httpx.AsyncClient, team: Team
) -> None:
    both = await create_contact(
        client, team, email="a@example.com", metadata={"env": "prod", "tier": "gold"}
    )
    await create_contact(
        client, team, email="b@example.com", metadata={"env": "prod", "tier": "silver"}
    )
    await create_contact(client, team, email="c@example.com", metadata={"tier": "gold"})
    found = await list_handles(client, team, **{"metadata[env]": "prod", "metadata[tier]": "gold"})
    assert found == [both["handle"]]


async def test_metadata_filter_for_a_missing_key_returns_nothing(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create_contact(client, team, metadata={"env": "prod"})
    assert await list_handles(client, team, **{"metadata[region]": "eu"}) == []


async def test_filters_combine(client: httpx.AsyncClient, team: Team) -> None:
    parent = await create_contact(client, team, email="parent@example.com")
    wanted = await create_contact(
        client,
        team,
        email="wanted@example.com",
        parent_handle=parent["handle"],
        metadata={"env": "prod"},
    )
    await create_contact(
        client,
        team,
        email="other@example.com",
        parent_handle=parent["handle"],
        metadata={"env": "test"},
    )
    await create_contact(client, team, email="wanted2@example.com", metadata={"env": "prod"})
    found = await list_handles(
        client,
        team,
        query="wanted",
        parent_handle=parent["handle"],
        **{"metadata[env]": "prod"},
    )
    assert found == [wanted["handle"]]


async def test_listing_shows_the_parent_as_its_handle(
    client: httpx.AsyncClient, team: Team
) -> None:
    parent = await create_contact(client, team, email="parent@example.com")
    child = await create_contact(
        client, team, email="child@example.com", parent_handle=parent["handle"]
    )
    body = await get_page(client, team, sort="id")
    by_handle = {c["handle"]: c for c in body["data"]}
    assert by_handle[child["handle"]]["parent"] == parent["handle"]
    assert by_handle[parent["handle"]]["parent"] is None


async def test_listing_expands_the_parent(client: httpx.AsyncClient, team: Team) -> None:
    parent = await create_contact(client, team, email="parent@example.com")
    child = await create_contact(
        client, team, email="child@example.com", parent_handle=parent["handle"]
    )
    body = await get_page(client, team, **{"expand[]": "parent", "sort": "id"})
    embedded = body["data"][1]["parent"]
    assert body["data"][1]["handle"] == child["handle"]
    assert (
        embedded
        == (await client.get(contact_url(parent["handle"]), headers=team.headers)).json()["data"]
    )
    assert body["data"][0]["parent"] is None


@pytest.mark.parametrize("key", ["a.b", "a b", "a'b"])
async def test_metadata_filter_works_for_keys_with_punctuation(
    client: httpx.AsyncClient, team: Team, key: str
) -> None:
    await create_contact(client, team, email="a@example.com", metadata={"other": "v"})
    wanted = await create_contact(client, team, email="b@example.com", metadata={key: "v"})
    assert await list_handles(client, team, **{f"metadata[{key}]": "v"}) == [wanted["handle"]]


async def test_metadata_filter_matches_non_ascii_values(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create_contact(client, team, email="a@example.com", metadata={"city": "Zurich"})
    wanted = await create_contact(client, team, email="b@example.com", metadata={"city": "Zürich"})
    assert await list_handles(client, team, **{"metadata[city]": "Zürich"}) == [wanted["handle"]]
