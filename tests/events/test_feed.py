"""The native event feed: Domain Chief's shape, cursor paging that never misses or repeats an
event (also when transactions commit out of id order), filters, and its errors."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from nichandle.accounts.service import Actor
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.events import catalogue
from nichandle.events.service import emit
from tests.conftest import Team, contact_payload, create_contact, make_team
from tests.dialects.native.helpers import contact_url, field_errors
from tests.fresh_database import POSTGRES_ADMIN_URL

FEED = "/api/v1/events"


async def poll(
    client: httpx.AsyncClient, team: Team, cursor: str | None = None, **params: Any
) -> dict[str, Any]:
    query = {**params, **({"cursor": cursor} if cursor else {})}
    response = await client.get(FEED, params=query, headers=team.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def read_all(
    client: httpx.AsyncClient, team: Team, cursor: str | None = None, **params: Any
) -> tuple[list[dict[str, Any]], str | None]:
    """Every event after ``cursor``, page by page, as a polling client reads them."""
    events: list[dict[str, Any]] = []
    while True:
        page = await poll(client, team, cursor, **params)
        events += page["data"]
        cursor = page["meta"]["cursor"]
        if not page["meta"]["has_more"]:
            return events, cursor


async def test_a_contacts_life_in_the_feed(client: httpx.AsyncClient, team: Team) -> None:
    request_id = f"trace-{uuid.uuid4().hex[:8]}"
    headers = {**team.headers, "X-Request-Id": request_id}
    created = await client.post(
        "/api/v1/contacts", json=contact_payload(email="life@example.com"), headers=headers
    )
    assert created.status_code == 201, created.text
    assert created.headers["x-request-id"] == request_id
    handle = created.json()["data"]["handle"]
    second = await create_contact(client, team, email="other@example.com")
    changed = await client.patch(
        contact_url(handle), json={"address_city": "Utrecht"}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    deleted = await client.delete(contact_url(second["handle"]), headers=team.headers)
    assert deleted.status_code == 204, deleted.text

    events, cursor = await read_all(client, team)

    assert [(e["type"], e["resource"]["id"]) for e in events] == [
        ("contact.created", handle),
        ("contact.created", second["handle"]),
        ("contact.changed", handle),
        ("contact.deleted", second["handle"]),
    ]
    first = events[0]
    assert first["activity"] == "created"
    assert first["resource"] == {"type": "contact", "id": handle, "parent": None}
    assert first["request_id"] == request_id
    assert first["actor"]["kind"] == "token"
    assert first["actor"]["dialect"] == "native"
    assert first["data"]["contact"]["email"] == "life@example.com"
    assert first["occurred_at"].endswith("Z")
    assert uuid.UUID(first["id"])
    assert events[2]["activity"] == "changed"
    assert events[2]["data"]["before"]["address_city"] == "Amsterdam"
    assert events[2]["data"]["contact"]["address_city"] == "Utrecht"
    # A generated request id when the client sends none, and the same one in the answer.
    assert uuid.UUID(events[1]["request_id"])

    again = await poll(client, team, cursor)
    assert again == {"data": [], "meta": {"cursor": cursor, "has_more": False}}
    await client.patch(contact_url(handle), json={"address_city": "Delft"}, headers=team.headers)
    newer, _ = await read_all(client, team, cursor)
    assert [(e["type"], e["data"]["contact"]["address_city"]) for e in newer] == [
        ("contact.changed", "Delft")
    ]


async def test_pages_walk_every_event_once(client: httpx.AsyncClient, team: Team) -> None:
    for n in range(7):
        await create_contact(client, team, email=f"page{n}@example.com")
    first = await poll(client, team, per_page=3)
    assert len(first["data"]) == 3
    assert first["meta"]["has_more"] is True
    events, _ = await read_all(client, team, per_page=3)
    ids = [e["id"] for e in events]
    assert len(ids) == 7
    assert len(set(ids)) == 7
    emails = [e["data"]["contact"]["email"] for e in events]
    assert emails == [f"page{n}@example.com" for n in range(7)]
    default_page = await poll(client, team)
    assert len(default_page["data"]) == 7


async def test_filters_by_type_contact_and_domain(client: httpx.AsyncClient, team: Team) -> None:
    owner = await create_contact(client, team, email="owner@example.com")
    other = await create_contact(client, team, email="someone@example.com")
    await client.patch(
        contact_url(other["handle"]), json={"address_city": "Delft"}, headers=team.headers
    )
    domain = await client.post(
        "/api/v1/domains", json={"name": "bücher-feed.example"}, headers=team.headers
    )
    assert domain.status_code == 201, domain.text
    locked = await client.patch(
        "/api/v1/domains/bücher-feed.example", json={"locked": True}, headers=team.headers
    )
    assert locked.status_code == 200, locked.text

    changed, _ = await read_all(client, team, **{"type[]": ["contact.changed"]})
    assert [e["resource"]["id"] for e in changed] == [other["handle"]]
    about_owner, _ = await read_all(client, team, contact=owner["handle"])
    assert [e["type"] for e in about_owner] == ["contact.created"]
    about_domain, _ = await read_all(client, team, domain="Bücher-Feed.example")
    # Created with every role on the default: no role was assigned, so no contacts_changed.
    assert [e["type"] for e in about_domain] == [
        "domain.created",
        "domain.updated",
        "domain.lock_changed",
    ]
    updated, lock = about_domain[1]["data"], about_domain[2]["data"]
    assert (updated["domain"], updated["locked"], updated["status"]) == (
        "xn--bcher-feed-9db.example",
        True,
        "registered",
    )
    assert lock == {
        **updated,
        "lock": "transfer",
        "action": "added",
        "registry_statuses": ["clientTransferProhibited"],
    }
    both, _ = await read_all(client, team, **{"type[]": ["contact.created", "domain.updated"]})
    assert sorted(e["type"] for e in both) == ["contact.created"] * 2 + ["domain.updated"]


async def test_another_team_sees_none_of_it(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    await create_contact(client, team, email="mine@example.com")
    mine = await poll(client, team)
    assert mine["data"]
    theirs = await poll(client, other_team)
    assert theirs == {"data": [], "meta": {"cursor": None, "has_more": False}}
    # Nor may it read on from a cursor of ours.
    response = await client.get(
        FEED, params={"cursor": mine["meta"]["cursor"]}, headers=other_team.headers
    )
    assert "cursor" in field_errors(response)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "MTIzLjQ1Ng"}, "cursor"),  # "123.456": well formed, names nothing
        ({"cursor": "LTEuMA"}, "cursor"),  # "-1.0"
        ({"cursor": "é"}, "cursor"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 101}, "per_page"),
        ({"type[]": "contact.exploded"}, "type[]"),
        ({"type[]": "contact.updated2"}, "type[]"),
        ({"domain": "no dots"}, "domain"),
    ],
)
async def test_bad_parameters_are_a_422_naming_them(
    client: httpx.AsyncClient, team: Team, params: dict[str, Any], field: str
) -> None:
    response = await client.get(FEED, params=params, headers=team.headers)
    assert field in field_errors(response)


async def test_events_committed_out_of_id_order_are_neither_missed_nor_repeated(
    client: httpx.AsyncClient, db: Database
) -> None:
    """Transaction A writes the smaller id but commits after B: a cursor past B's event must
    still see A's."""
    if db.is_sqlite:
        pytest.skip("SQLite's writers take turns: ids are in commit order there")
    team = await make_team(db)
    actor = Actor(team.id, None, "system")
    _before, cursor = await read_all(client, team)

    async with unit_of_work(db) as slow:
        emit(slow, actor, catalogue.WEBHOOK_TEST, {"webhook_id": 1, "url": "https://a.test"})
        await slow.flush()  # A's id is taken now, before B's
        async with unit_of_work(db) as fast:
            emit(fast, actor, catalogue.WEBHOOK_TEST, {"webhook_id": 2, "url": "https://b.test"})
        seen_meanwhile, cursor = await read_all(client, team, cursor)
        # B committed, but A (older) is still running: nothing is shown yet, rather than B
        # first and A never.
        assert seen_meanwhile == []
    seen_after, _ = await read_all(client, team, cursor)
    assert [e["data"]["webhook_id"] for e in seen_after] == [1, 2]


async def test_a_transaction_in_another_database_does_not_hold_the_feed_back(
    client: httpx.AsyncClient, db: Database
) -> None:
    """Only this database's transactions can write its events: another database's open
    transaction on the same server (another application, another test run) must not delay it."""
    if db.is_sqlite:
        pytest.skip("one SQLite file is one database")
    team = await make_team(db)
    elsewhere = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        async with elsewhere.transaction():
            await elsewhere.execute("SELECT pg_current_xact_id()")  # holds a transaction id
            async with unit_of_work(db) as session:
                emit(
                    session,
                    Actor(team.id, None, "system"),
                    catalogue.WEBHOOK_TEST,
                    {"webhook_id": 1, "url": "https://a.test"},
                )
            seen, _ = await read_all(client, team)
            assert [e["type"] for e in seen] == ["webhook.test"]
    finally:
        await elsewhere.close()
