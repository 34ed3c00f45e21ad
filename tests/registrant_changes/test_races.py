"""Changes of registrant racing each other against a live `nichandle serve` (SQLite and
PostgreSQL): concurrent requests, then the invariants checked in the database; an expected
conflict is a 4xx, never a 500 (the module's server logs are checked for 500s too).

The parties' links are made here as the worker makes them (a token whose SHA-256 is stored):
the worker's mail is tested end to end in test_end_to_end.py.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, select

from nichandle.db.engine import Database
from nichandle.registrant_changes.models import RegistrantChange, RegistrantChangeToken
from nichandle.registrant_changes.service import token_hash
from tests.test_live_server import LiveServer, client_for, module_database, module_server
from tests.test_races import ROUND_TIMEOUT, make_contact, new_team, rows, statuses

server = module_server("registrant-change-races")
db = module_database()

EDITS = 8
DOMAINS = 3


async def registrant_of_domains(
    http: httpx.AsyncClient, tag: str, count: int = DOMAINS
) -> tuple[dict[str, Any], list[str]]:
    await make_contact(http)  # the default, so the registrant below is explicit
    owner = await make_contact(http)
    names = [f"{tag}-{n}-{secrets.token_hex(3)}.com" for n in range(count)]
    for name in names:
        created = await http.post(
            "/api/v1/domains", json={"name": name, "contacts": {"owner": owner["handle"]}}
        )
        assert created.status_code == 201, created.text
    return owner, names


async def edited_registrant(
    http: httpx.AsyncClient, tag: str, email: str, count: int = DOMAINS
) -> tuple[dict[str, Any], list[str], int]:
    """A registrant of ``count`` domains whose email is edited: it, the domains, and the id of
    the first of the changes now pending."""
    owner, names = await registrant_of_domains(http, tag, count)
    edited = await http.patch(f"/api/v1/contacts/{owner['handle']}", json={"email": email})
    assert edited.status_code == 202, edited.text
    return owner, names, edited.json()["registrant_changes"][0]["id"]


async def asked_emails(db: Database, account_id: int) -> list[str]:
    """The new emails the account's pending changes ask the parties to confirm."""
    found = await rows(
        db,
        "SELECT DISTINCT q.new_email FROM registrant_change c JOIN registrant_change_request q "
        "ON q.id = c.request_id WHERE c.account_id = :a AND c.state = 'pending'",
        a=account_id,
    )
    return [email for (email,) in found]


async def link(db: Database, change_id: int, party: str) -> str:
    """A party's confirmation link, stored as the worker stores one."""
    token = secrets.token_urlsafe(32)
    async with db.writer.begin() as connection:
        found = await connection.execute(
            select(RegistrantChange.request_id, RegistrantChange.account_id).where(
                RegistrantChange.id == change_id
            )
        )
        request_id, account_id = found.one()
        now = datetime.now(UTC)
        await connection.execute(
            insert(RegistrantChangeToken).values(
                token_hash=token_hash(token),
                request_id=request_id,
                account_id=account_id,
                party=party,
                created_at=now,
                expires_at=now + timedelta(days=7),
            )
        )
    return f"/registrant-change/{token}"


async def press(server: LiveServer, path: str) -> httpx.Response:
    """What a person does, in a browser of their own: open the page, press its button."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as browser:
        page = await browser.get(path)
        if page.status_code != 200:
            return page
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        return await browser.post(path, data={"csrf_token": csrf})


async def pending_per_domain(db: Database, account_id: int) -> dict[str, int]:
    found = await rows(
        db,
        "SELECT domain_name, count(*) FROM registrant_change "
        "WHERE account_id = :a AND state = 'pending' GROUP BY domain_name",
        a=account_id,
    )
    return dict(found)


async def registrants(db: Database, account_id: int) -> list[tuple[str, str, str]]:
    """(domain, email, handle) of each of the account's domains' own registrant role row."""
    found = await rows(
        db,
        "SELECT d.name, c.email, c.handle FROM domain d JOIN domain_contact r "
        "ON r.domain_id = d.id AND r.role = 'registrant' JOIN contact c ON c.id = r.contact_id "
        "WHERE d.account_id = :a ORDER BY d.name",
        a=account_id,
    )
    return [(name, email, handle) for name, email, handle in found]


async def test_concurrent_edits_of_one_registrant_start_one_pending_change_per_domain(
    server: LiveServer, db: Database
) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        owner, names = await registrant_of_domains(http, "edits")
        answers = await asyncio.gather(
            *(
                http.patch(f"/api/v1/contacts/{owner['handle']}", json={"email": f"e{n}@x.example"})
                for n in range(EDITS)
            )
        )
        final = (await http.get(f"/api/v1/contacts/{owner['handle']}")).json()["data"]
    codes = statuses(answers)
    assert set(codes) <= {202, 409}, codes
    # The first edit holds the domains at the prior details; each later one replaces the
    # pending changes with changes to the contact as it is then: one pending change per
    # domain, to the email the contact has in the end.
    assert await pending_per_domain(db, account_id) == dict.fromkeys(names, 1)
    assert await asked_emails(db, account_id) == [final["email"]]
    held = await registrants(db, account_id)
    assert {email for _name, email, _handle in held} == {owner["email"]}
    assert owner["handle"] not in {handle for _name, _email, handle in held}


async def test_the_new_registrant_edited_while_both_parties_confirm(
    server: LiveServer, db: Database
) -> None:
    """Whichever comes first, the parties are never left confirming details that are not the
    ones that would apply: one pending change per domain in the end, to the contact as it is."""
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        owner, names, change_id = await edited_registrant(http, "again", "again-1@x.example")
        prior, new = await link(db, change_id, "prior"), await link(db, change_id, "new")
        edit = http.patch(
            f"/api/v1/contacts/{owner['handle']}", json={"email": "again-2@x.example"}
        )
        answers = await asyncio.gather(edit, press(server, prior), press(server, new))
    assert answers[0].status_code == 202, answers[0].text
    # A press after the edit finds its link replaced (410); before it, it confirmed (200).
    assert set(statuses(list(answers[1:]))) <= {200, 410}, [a.text[:300] for a in answers]
    assert await pending_per_domain(db, account_id) == dict.fromkeys(names, 1)
    assert await asked_emails(db, account_id) == ["again-2@x.example"]


async def test_contacts_made_the_default_at_once_hold_each_unset_registrant_once(
    server: LiveServer, db: Database
) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        first = await make_contact(http)  # the default: every role below is unset
        names = [f"default-{n}-{secrets.token_hex(3)}.com" for n in range(DOMAINS)]
        for name in names:
            created = await http.post("/api/v1/domains", json={"name": name})
            assert created.status_code == 201, created.text
        candidates = [await make_contact(http) for _ in range(4)]
        answers = await asyncio.gather(
            *(
                http.patch(f"/api/v1/contacts/{c['handle']}", json={"is_default": True})
                for c in candidates
            )
        )
    codes = statuses(answers)
    assert set(codes) <= {200, 202, 409}, codes
    # The first move holds the domains at the prior default, by their own role rows; the later
    # moves find no domain leaving the registrant unset.
    assert codes.count(202) == 1, codes
    assert await pending_per_domain(db, account_id) == dict.fromkeys(names, 1)
    held = await registrants(db, account_id)
    assert [handle for _name, _email, handle in held] == [first["handle"]] * DOMAINS
    defaults = await rows(
        db, "SELECT count(*) FROM contact WHERE account_id = :a AND is_default", a=account_id
    )
    assert defaults == [(1,)]


async def test_reassigns_of_one_registrant_at_once_leave_one_pending_change_per_domain(
    server: LiveServer, db: Database
) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        owner, names = await registrant_of_domains(http, "reassigns", count=6)
        others = [await make_contact(http) for _ in range(3)]
        answers = await asyncio.gather(
            *(
                http.post(
                    f"/api/v1/contacts/{owner['handle']}/reassign",
                    json={"to": other["handle"], "roles": ["owner"]},
                )
                for other in others
                for _twice in range(2)
            )
        )
    codes = statuses(answers)
    assert set(codes) <= {200, 409}, codes
    done = [a.json()["data"] for a in answers if a.status_code == 200]
    # The domains are locked in one order: the reassigns take turns, each finds the role still
    # naming the owner (held) and replaces the pending change before it.
    assert all(sorted(d["pending_registrant_changes"]) == sorted(names) for d in done), done
    assert await pending_per_domain(db, account_id) == dict.fromkeys(names, 1)
    cancelled = await rows(
        db,
        "SELECT count(*) FROM registrant_change WHERE account_id = :a AND state = 'cancelled'",
        a=account_id,
    )
    assert cancelled == [((len(done) - 1) * len(names),)]
    held = await registrants(db, account_id)
    assert {handle for _name, _email, handle in held} == {owner["handle"]}


async def test_both_parties_confirming_at_once_apply_the_change_once(
    server: LiveServer, db: Database
) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        owner, names, change_id = await edited_registrant(http, "both", "both-new@x.example")
        prior, new = await link(db, change_id, "prior"), await link(db, change_id, "new")
        answers = await asyncio.gather(press(server, prior), press(server, new))
    assert statuses(list(answers)) == [200, 200], [a.text[:300] for a in answers]
    for kind in ("domain.registrant_change.applied", "domain.transfer_lock.added"):
        [(count,)] = await rows(
            db,
            "SELECT count(*) FROM outbox_event WHERE account_id = :a AND type = :t",
            a=account_id,
            t=kind,
        )
        assert count == DOMAINS, kind
    states = await rows(
        db, "SELECT state FROM registrant_change WHERE account_id = :a", a=account_id
    )
    assert [state for (state,) in states] == ["applied"] * DOMAINS
    handles = await rows(
        db,
        "SELECT c.handle FROM domain_contact r JOIN contact c ON c.id = r.contact_id "
        "WHERE r.account_id = :a AND r.role = 'registrant'",
        a=account_id,
    )
    assert [handle for (handle,) in handles] == [owner["handle"]] * len(names)


async def test_a_confirmation_racing_a_cancel_ends_one_way_only(
    server: LiveServer, db: Database
) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        for round_ in range(3):
            owner, [name], change_id = await edited_registrant(
                http, f"cancel{round_}", f"c{round_}@x.example", count=1
            )
            first = await press(server, await link(db, change_id, "prior"))
            assert first.status_code == 200, first.text
            last = await link(db, change_id, "new")
            confirmed, cancelled = await asyncio.gather(
                press(server, last), http.delete(f"/api/v1/registrant-changes/{change_id}")
            )
            [(state,)] = await rows(
                db, "SELECT state FROM registrant_change WHERE id = :id", id=change_id
            )
            [(handle,)] = await rows(
                db,
                "SELECT c.handle FROM domain d JOIN domain_contact r ON r.domain_id = d.id "
                "AND r.role = 'registrant' JOIN contact c ON c.id = r.contact_id "
                "WHERE d.account_id = :a AND d.name = :n",
                a=account_id,
                n=name,
            )
            if state == "applied":
                assert (confirmed.status_code, cancelled.status_code) == (200, 409)
                assert handle == owner["handle"]
            else:
                assert state == "cancelled"
                assert cancelled.status_code == 204
                assert confirmed.status_code in (404, 410), confirmed.text[:300]
                assert handle != owner["handle"]
