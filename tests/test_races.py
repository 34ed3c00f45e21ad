"""Concurrent writes against a live `nichandle serve`: no lost update, no 500, and the store's
invariants checked in the database afterwards (one default per account, history that chains,
fingerprints that match the data, one deletion per deleted record).

PostgreSQL (READ COMMITTED, many connections) is where these races are real; SQLite, with its
single writer, runs the same rounds as a check that the answers are the same there.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Awaitable
from typing import Any

import httpx
from sqlalchemy import text

from nichandle.contacts.dedup import fingerprint
from nichandle.contacts.validation import TEXT_FIELDS
from nichandle.db.engine import Database
from tests.conftest import contact_payload
from tests.test_live_server import (
    LiveServer,
    cli_json,
    client_for,
    module_database,
    module_server,
)

ROUND_TIMEOUT = 60


server = module_server("races")
db = module_database()


async def new_team(server: LiveServer) -> dict[str, Any]:
    created: dict[str, Any] = await cli_json(
        server.database_url, "accounts", "create", f"Race {secrets.token_hex(3)}", "--json"
    )
    return created


async def rows(db: Database, sql: str, **params: Any) -> list[Any]:
    async with db.reader.connect() as connection:
        return list(await connection.execute(text(sql), params))


def statuses(responses: list[httpx.Response]) -> list[int]:
    for response in responses:
        assert response.status_code < 500, response.text
    return sorted(r.status_code for r in responses)


async def make_contact(http: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    tag = secrets.token_hex(4)
    body = contact_payload(first_name=f"P{tag}", email=f"{tag}@example.com", **overrides)
    response = await http.post("/api/v1/contacts", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def assert_history_chains(db: Database, account_id: int, handle: str) -> None:
    """Each version's ``before`` is the previous version's ``after``: no update was lost."""
    versions = await rows(
        db,
        "SELECT action, before, after FROM contact_version "
        "WHERE account_id = :a AND handle = :h ORDER BY id",
        a=account_id,
        h=handle,
    )
    previous = None
    for action, before, after in versions:
        before, after = _json(before), _json(after)
        if action != "create":
            assert before == previous, (action, before, previous)
        previous = after


async def assert_role_history_chains(db: Database, account_id: int, name: str) -> None:
    """Each role change of the domain starts where the previous one ended, and the last one
    is what the domain holds (nothing, once deleted)."""
    changes = await rows(
        db,
        "SELECT role, before_handle, after_handle FROM domain_role_change "
        "WHERE account_id = :a AND domain_name = :n ORDER BY id",
        a=account_id,
        n=name,
    )
    current: dict[str, str | None] = {}
    for role, before, after in changes:
        assert current.get(role) == before, (name, role, before, current)
        current[role] = after
    stored = await rows(
        db,
        "SELECT dc.role, c.handle FROM domain_contact dc "
        "JOIN domain d ON d.id = dc.domain_id JOIN contact c ON c.id = dc.contact_id "
        "WHERE d.account_id = :a AND d.name = :n",
        a=account_id,
        n=name,
    )
    assert dict(stored) == {r: h for r, h in current.items() if h is not None}


async def assert_no_role_names_a_missing_contact(db: Database) -> None:
    dangling = await rows(
        db,
        "SELECT count(*) FROM domain_contact dc LEFT JOIN contact c ON c.id = dc.contact_id "
        "WHERE c.id IS NULL",
    )
    assert dangling[0][0] == 0


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


async def assert_one_default(db: Database, account_id: int) -> None:
    found = await rows(
        db, "SELECT count(*) FROM contact WHERE account_id = :a AND is_default", a=account_id
    )
    assert found[0][0] == 1


async def test_concurrent_patches_lose_no_update(server: LiveServer, db: Database) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        for _round in range(3):
            contact = await make_contact(http)
            handle = contact["handle"]
            responses = await asyncio.gather(
                *(
                    http.patch(f"/api/v1/contacts/{handle}", json={"metadata": {f"k{n}": "v"}})
                    for n in range(20)
                )
            )
            assert statuses(responses) == [200] * 20
            stored = (await http.get(f"/api/v1/contacts/{handle}")).json()["data"]
            assert stored["metadata"] == {f"k{n}": "v" for n in range(20)}
            await assert_history_chains(db, account_id, handle)

            # Different fields at once: the stored fingerprint still matches the data, so an
            # identical create finds the contact instead of making a copy.
            changes = [
                {"email": "same@example.com"},
                {"phone": "+31207654321"},
                {"address_city": "Utrecht", "address_postal_code": "3511 AA"},
                {"label": "racing"},
                {"address_street": "Oudegracht"},
                {"address_house_number": "12"},
            ]
            responses = await asyncio.gather(
                *(http.patch(f"/api/v1/contacts/{handle}", json=body) for body in changes)
            )
            assert statuses(responses) == [200] * len(changes)
            await assert_history_chains(db, account_id, handle)
            columns = ", ".join(TEXT_FIELDS)
            (row,) = await rows(
                db,
                f"SELECT fingerprint, {columns} FROM contact WHERE handle = :h",  # noqa: S608
                h=handle,
            )
            assert row[0] == fingerprint(dict(zip(TEXT_FIELDS, row[1:], strict=True)))
            stored = (await http.get(f"/api/v1/contacts/{handle}")).json()["data"]
            identical = {
                k: stored[k] for k in contact_payload() if k in stored and stored[k] is not None
            }
            again = await http.post("/api/v1/contacts", json=identical)
            assert again.status_code == 200, again.text
            assert again.json()["data"]["handle"] == handle


async def test_delete_racing_a_default_move_leaves_one_default(
    server: LiveServer, db: Database
) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        await make_contact(http)  # the first contact: the default
        moves = 0
        for _round in range(15):
            target = await make_contact(http)
            handle = target["handle"]
            patch, delete = await asyncio.gather(
                http.patch(f"/api/v1/contacts/{handle}", json={"is_default": True}),
                http.delete(f"/api/v1/contacts/{handle}"),
            )
            outcome = (patch.status_code, delete.status_code)
            # The default move first (then the default can't be deleted), or the delete first
            # (then there is nothing to move).
            assert outcome in ((200, 409), (404, 204)), (patch.text, delete.text)
            moves += outcome == (200, 409)
            await assert_one_default(db, account_id)
        # A default moving from A to B is a change of both: each move gave the contact that
        # lost the default a version of its own, and an event.
        versions = await rows(
            db, "SELECT before, after FROM contact_version WHERE account_id = :a", a=account_id
        )
        pairs = [(_json(before), _json(after)) for before, after in versions]
        lost = [1 for b, a in pairs if b and a and b["is_default"] and not a["is_default"]]
        assert len(lost) == moves
        events = await rows(
            db,
            "SELECT payload FROM outbox_event WHERE account_id = :a AND type = 'contact.updated'",
            a=account_id,
        )
        assert (
            sum(
                1
                for (payload,) in events
                if _json(payload)["before"]["is_default"]
                and not _json(payload)["contact"]["is_default"]
            )
            == moves
        )


async def test_concurrent_deletes_delete_once(server: LiveServer, db: Database) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        await make_contact(http)
        for _round in range(8):
            handle = (await make_contact(http))["handle"]
            responses = await asyncio.gather(
                *(http.delete(f"/api/v1/contacts/{handle}") for _ in range(6))
            )
            assert statuses(responses) == [204] + [404] * 5
            deletions = await rows(
                db,
                "SELECT count(*) FROM contact_version "
                "WHERE account_id = :a AND handle = :h AND action = 'delete'",
                a=account_id,
                h=handle,
            )
            assert deletions[0][0] == 1
            name = f"race-{secrets.token_hex(4)}.com"
            assert (await http.post("/api/v1/domains", json={"name": name})).status_code == 201
            responses = await asyncio.gather(
                *(http.delete(f"/api/v1/domains/{name}") for _ in range(6))
            )
            assert statuses(responses) == [204] + [404] * 5
            events = await rows(
                db,
                "SELECT count(*) FROM outbox_event WHERE account_id = :a "
                "AND type = 'domain.deleted' AND CAST(payload AS TEXT) LIKE :p",
                a=account_id,
                p=f"%{name}%",
            )
            assert events[0][0] == 1


async def test_same_domain_created_concurrently_is_a_conflict(server: LiveServer) -> None:
    team = await new_team(server)
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        await make_contact(http)
        for _round in range(8):
            name = f"twin-{secrets.token_hex(4)}.com"
            responses = await asyncio.gather(
                *(http.post("/api/v1/domains", json={"name": name}) for _ in range(6))
            )
            assert statuses(responses) == [201] + [409] * 5


async def test_concurrent_role_changes_of_one_domain(server: LiveServer, db: Database) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    basic = base64.b64encode(f"{team['account']['slug']}:{team['token']}".encode()).decode()
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        await make_contact(http)
        people = [await make_contact(http) for _ in range(4)]
        for _round in range(6):
            name = f"roles-{secrets.token_hex(4)}.com"
            assert (await http.post("/api/v1/domains", json={"name": name})).status_code == 201
            patches = [
                http.patch(
                    f"/api/v1/domains/{name}",
                    json={"contacts": {"admin": p["handle"], "tech": p["handle"]}},
                )
                for p in people
            ]
            set_contacts = [
                http.post(
                    f"/core/v1/domains/{name}:setContacts",
                    headers={"Authorization": f"Basic {basic}"},
                    json={"contacts": _namecom_roles(n)},
                )
                for n in range(2)
            ]
            responses = await asyncio.gather(*patches, *set_contacts)
            assert all(code == 200 for code in statuses(responses)), [r.text for r in responses]
            await assert_role_history_chains(db, account_id, name)


def _namecom_roles(n: int) -> dict[str, Any]:
    person = {
        "firstName": f"Name{n}",
        "lastName": "Com",
        "address1": "Main Street 1",
        "city": "New York",
        "state": "NY",
        "zip": "10001",
        "country": "US",
        "email": f"namecom{n}@example.com",
        "phone": "+1.5551234567",
    }
    return dict.fromkeys(("registrant", "admin", "tech", "billing"), person)


async def test_delete_racing_an_assignment_of_the_contact(server: LiveServer, db: Database) -> None:
    team = await new_team(server)
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        await make_contact(http)
        name = f"assign-{secrets.token_hex(4)}.com"
        assert (await http.post("/api/v1/domains", json={"name": name})).status_code == 201
        outcomes = set()
        for _round in range(15):
            handle = (await make_contact(http))["handle"]
            assign, delete = await asyncio.gather(
                http.patch(f"/api/v1/domains/{name}", json={"contacts": {"billing": handle}}),
                http.delete(f"/api/v1/contacts/{handle}"),
            )
            outcome = (assign.status_code, delete.status_code)
            # Assigned first (the contact is then in use), or deleted first (then it names no
            # contact: a 422 naming the role).
            assert outcome in ((200, 409), (422, 204)), (assign.text, delete.text)
            if outcome == (422, 204):
                assert "contacts.billing" in assign.json()["errors"]
            outcomes.add(outcome)
        await assert_no_role_names_a_missing_contact(db)


async def test_creates_and_default_moves_never_deadlock(server: LiveServer, db: Database) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        for _round in range(5):
            bodies = [
                contact_payload(
                    first_name=f"D{secrets.token_hex(4)}",
                    email=f"d{n}{secrets.token_hex(3)}@example.com",
                    is_default=n % 3 == 0,
                )
                for n in range(12)
            ]
            responses = await asyncio.gather(
                *(http.post("/api/v1/contacts", json=body) for body in bodies)
            )
            assert statuses(responses) == [201] * 12
            await assert_one_default(db, account_id)


WIRE_TO_CORE = {"owner": "registrant", "admin": "admin", "tech": "tech", "billing": "billing"}


def reassign(
    http: httpx.AsyncClient, handle: str, request_id: str, **body: Any
) -> Awaitable[httpx.Response]:
    return http.post(
        f"/api/v1/contacts/{handle}/reassign", json=body, headers={"X-Request-Id": request_id}
    )


async def assert_answer_is_what_was_recorded(
    db: Database, account_id: int, response: httpx.Response
) -> None:
    """The domains and roles a reassign answered are exactly the events its request made."""
    events = await rows(
        db,
        "SELECT payload FROM outbox_event WHERE account_id = :a AND request_id = :r "
        "AND type = 'domain.contacts_changed'",
        a=account_id,
        r=response.headers["x-request-id"],
    )
    recorded = sorted((_json(p)["domain"], _json(p)["roles"]) for (p,) in events)
    answered = sorted(
        (d["name"], [WIRE_TO_CORE[r] for r in d["roles"]])
        for d in response.json()["data"]["domains"]
    )
    assert recorded == answered


async def test_reassigns_crossing_each_other_and_role_changes(
    server: LiveServer, db: Database
) -> None:
    """A -> B, B -> A, A -> C (tech) at once, with a PATCH of one domain's roles and a delete of
    another: every reassign succeeds (the domains are locked in one order: no deadlock), each
    answers exactly what it recorded, and every domain's role history chains."""
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        await make_contact(http)
        a, b, c = [(await make_contact(http))["handle"] for _ in range(3)]
        for round_ in range(5):
            names = [f"cross-{secrets.token_hex(3)}-{n}.com" for n in range(8)]
            for n, name in enumerate(names):
                roles = {"owner": (a, b)[n % 2], "admin": (b, a, c)[n % 3], "tech": a}
                created = await http.post("/api/v1/domains", json={"name": name, "contacts": roles})
                assert created.status_code == 201, created.text
            tag = f"{round_}-{secrets.token_hex(3)}"
            responses = await asyncio.gather(
                reassign(http, a, f"ab-{tag}", to=b),
                reassign(http, b, f"ba-{tag}", to=a),
                reassign(http, a, f"ac-{tag}", to=c, roles=["tech"]),
                http.patch(f"/api/v1/domains/{names[0]}", json={"contacts": {"admin": c}}),
                http.delete(f"/api/v1/domains/{names[-1]}"),
            )
            assert [r.status_code for r in responses] == [200, 200, 200, 200, 204], [
                r.text for r in responses
            ]
            for response in responses[:3]:
                await assert_answer_is_what_was_recorded(db, account_id, response)
            for name in names:
                await assert_role_history_chains(db, account_id, name)
        await assert_no_role_names_a_missing_contact(db)


async def test_reassign_racing_deletes_of_both_contacts(server: LiveServer, db: Database) -> None:
    """Reassigning A -> B while B, and A, are deleted: B is key-share locked by the reassign,
    so either the reassign wins (B is then in use: 409) or the delete does (B names no
    contact: 422 naming ``to``); A can only go once nothing uses it."""
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        await make_contact(http)
        for _round in range(12):
            a, b = [(await make_contact(http))["handle"] for _ in range(2)]
            names = [f"gone-{secrets.token_hex(4)}.com" for _ in range(3)]
            for name in names:
                body = {"name": name, "contacts": {"owner": a, "billing": a}}
                assert (await http.post("/api/v1/domains", json=body)).status_code == 201
            moved, delete_b, delete_a = await asyncio.gather(
                reassign(http, a, secrets.token_hex(8), to=b),
                http.delete(f"/api/v1/contacts/{b}"),
                http.delete(f"/api/v1/contacts/{a}"),
            )
            outcome = (moved.status_code, delete_b.status_code, delete_a.status_code)
            assert outcome in (
                (200, 409, 409),  # A deleted before the reassign: refused, in use
                (200, 409, 204),  # after: nothing uses A any more
                (422, 204, 409),  # B deleted first; A still in use
            ), (moved.text, delete_b.text, delete_a.text)
            if moved.status_code == 422:
                assert "to" in moved.json()["errors"]
            else:
                assert moved.json()["data"]["count"] == len(names)
            for name in names:
                await assert_role_history_chains(db, account_id, name)
            await assert_history_chains(db, account_id, a)
            await assert_history_chains(db, account_id, b)
        await assert_no_role_names_a_missing_contact(db)


async def test_counts_and_defaults_after_the_races(server: LiveServer, db: Database) -> None:
    """Whatever ran before on this server: every account has at most one default, and its kept
    count of contacts is the number of its rows."""
    defaults = await rows(
        db, "SELECT account_id, count(*) FROM contact WHERE is_default GROUP BY account_id"
    )
    assert all(count == 1 for _account, count in defaults)
    drift = await rows(
        db,
        "SELECT a.id FROM account a WHERE "
        "(SELECT count(*) FROM contact c WHERE c.account_id = a.id) != "
        "(SELECT coalesce(sum(contacts), 0) FROM contact_count k WHERE k.account_id = a.id)",
    )
    assert drift == []
