"""POST /api/v1/contacts/{handle}/reassign: contact A replaced by B across domains, previewed by
a dry run; each domain's change through the one write point of roles (history, events)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from nichandle.contacts.models import Contact
from nichandle.db.engine import Database
from nichandle.domains.models import Domain, DomainContact
from nichandle.domains.reassign import MAX_DOMAINS
from nichandle.events.models import OutboxEvent
from nichandle.history.models import DomainRoleChange
from tests.conftest import Team, create_contact, designated_agent
from tests.dialects.native.helpers import error_message, field_errors
from tests.dialects.native.test_domains import add_domain

CONTACTS_CHANGED = "domain.contacts_changed"


def reassign_url(handle: str) -> str:
    return f"/api/v1/contacts/{handle}/reassign"


async def reassign(
    client: httpx.AsyncClient, team: Team, handle: str, **body: Any
) -> httpx.Response:
    return await client.post(reassign_url(handle), json=body, headers=team.headers)


@dataclass
class Stored:
    """What a reassign may change, as the database holds it."""

    # Domain name -> {core role: contact handle}, explicit role rows only.
    roles: dict[str, dict[str, str]]
    # (domain name, role, before handle, after handle), oldest first.
    history: list[tuple[str, str, str | None, str | None]]
    # The domain.contacts_changed payloads, oldest first.
    events: list[dict[str, Any]]


async def stored(db: Database, account_id: int) -> Stored:
    async with db.reader_sessions() as session:
        rows = await session.execute(
            select(Domain.name, DomainContact.role, Contact.handle)
            .join(DomainContact, DomainContact.domain_id == Domain.id)
            .join(Contact, Contact.id == DomainContact.contact_id)
            .where(Domain.account_id == account_id)
        )
        roles: dict[str, dict[str, str]] = {}
        for name, role, handle in rows:
            roles.setdefault(name, {})[role] = handle
        changes = await session.execute(
            select(
                DomainRoleChange.domain_name,
                DomainRoleChange.role,
                DomainRoleChange.before_handle,
                DomainRoleChange.after_handle,
            )
            .where(DomainRoleChange.account_id == account_id)
            .order_by(DomainRoleChange.id)
        )
        history = [(name, role, before, after) for name, role, before, after in changes]
        events = await session.scalars(
            select(OutboxEvent.payload)
            .where(OutboxEvent.account_id == account_id, OutboxEvent.type == CONTACTS_CHANGED)
            .order_by(OutboxEvent.id)
        )
        return Stored(roles, history, list(events))


@dataclass
class Setup:
    default: str
    a: str
    b: str
    c: str


async def contacts_abc(client: httpx.AsyncClient, team: Team, *, agent: bool = True) -> Setup:
    """The default and A, B, C. With ``agent``, a Designated Agent approves changes of
    registrant for both parties, so a registrant moves at once (no confirmations to wait for)."""
    default = await create_contact(client, team)  # the first contact: the team's default
    a, b, c = [await create_contact(client, team, email=f"{n}@example.com") for n in "abc"]
    if agent:
        await designated_agent(client, team.headers)
    return Setup(default["handle"], a["handle"], b["handle"], c["handle"])


async def domains_using_a(client: httpx.AsyncClient, team: Team, s: Setup) -> None:
    """one.test: A as owner and admin, C as tech; bücher.example: A as tech and billing;
    three.test: A as billing; four.test: C only; five.test: every role the default."""
    await add_domain(
        client, team, name="one.test", contacts={"owner": s.a, "admin": s.a, "tech": s.c}
    )
    await add_domain(client, team, name="Bücher.example", contacts={"tech": s.a, "billing": s.a})
    await add_domain(client, team, name="three.test", contacts={"billing": s.a})
    await add_domain(client, team, name="four.test", contacts={"owner": s.c})
    await add_domain(client, team, name="five.test")


async def test_dry_run_changes_nothing_and_previews_exactly_what_the_real_run_changes(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    s = await contacts_abc(client, team)
    await domains_using_a(client, team, s)
    before = await stored(db, team.id)

    preview = await reassign(client, team, s.a, to=s.b, dry_run=True)
    assert preview.status_code == 200, preview.text
    assert await stored(db, team.id) == before
    expected = [
        {"name": "one.test", "unicode_name": "one.test", "roles": ["owner", "admin"]},
        {"name": "three.test", "unicode_name": "three.test", "roles": ["billing"]},
        {
            "name": "xn--bcher-kva.example",
            "unicode_name": "bücher.example",
            "roles": ["tech", "billing"],
        },
    ]
    assert preview.json()["data"] == {
        "from": s.a,
        "to": s.b,
        "dry_run": True,
        "roles": ["owner", "admin", "tech", "billing"],
        "domains": expected,
        "count": 3,
        "unchanged": [],
        "default_fallback": 0,
        "pending_registrant_changes": [],
    }

    done = await reassign(client, team, s.a, to=s.b)
    assert done.status_code == 200, done.text
    assert done.json()["data"] == {**preview.json()["data"], "dry_run": False}

    after = await stored(db, team.id)
    changed = {
        ("one.test", "registrant"),
        ("one.test", "admin"),
        ("xn--bcher-kva.example", "tech"),
        ("xn--bcher-kva.example", "billing"),
        ("three.test", "billing"),
    }
    # Exactly those roles now name B; every other role row is as it was.
    for name, roles in before.roles.items():
        for role, handle in roles.items():
            assert after.roles[name][role] == (s.b if (name, role) in changed else handle)
    assert after.roles.keys() == before.roles.keys()
    # One history entry per role moved, A -> B; one event per domain, naming its roles.
    new_history = after.history[len(before.history) :]
    assert sorted(new_history) == sorted((n, r, s.a, s.b) for n, r in changed)
    new_events = after.events[len(before.events) :]
    assert sorted((e["domain"], e["roles"]) for e in new_events) == [
        ("one.test", ["registrant", "admin"]),
        ("three.test", ["billing"]),
        ("xn--bcher-kva.example", ["tech", "billing"]),
    ]
    # A serves no domain any more: it can be deleted.
    deleted = await client.delete(f"/api/v1/contacts/{s.a}", headers=team.headers)
    assert deleted.status_code == 204, deleted.text


async def test_again_is_a_no_op(client: httpx.AsyncClient, team: Team, db: Database) -> None:
    s = await contacts_abc(client, team)
    await domains_using_a(client, team, s)
    assert (await reassign(client, team, s.a, to=s.b)).status_code == 200
    before = await stored(db, team.id)
    again = await reassign(client, team, s.a, to=s.b)
    assert again.status_code == 200, again.text
    assert again.json()["data"]["domains"] == []
    assert again.json()["data"]["count"] == 0
    assert await stored(db, team.id) == before


async def test_only_the_roles_and_domains_chosen_change(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    s = await contacts_abc(client, team)
    await domains_using_a(client, team, s)
    before = await stored(db, team.id)
    body = {
        "to": s.b,
        "roles": ["owner", "billing"],
        # Unicode or A-label, repeated, one without A in those roles.
        "domains": ["bücher.example", "xn--bcher-kva.example", "one.test", "four.test"],
    }
    preview = await reassign(client, team, s.a, **body, dry_run=True)
    assert preview.status_code == 200, preview.text
    data = preview.json()["data"]
    assert [(d["name"], d["roles"]) for d in data["domains"]] == [
        ("one.test", ["owner"]),
        ("xn--bcher-kva.example", ["billing"]),
    ]
    assert data["roles"] == ["owner", "billing"]
    assert data["unchanged"] == ["four.test"]

    done = await reassign(client, team, s.a, **body)
    assert done.json()["data"] == {**data, "dry_run": False}
    after = await stored(db, team.id)
    assert after.roles["one.test"] == {"registrant": s.b, "admin": s.a, "tech": s.c}
    assert after.roles["xn--bcher-kva.example"] == {"tech": s.a, "billing": s.b}
    assert after.roles["three.test"] == before.roles["three.test"]  # not selected
    assert after.roles["four.test"] == before.roles["four.test"]
    assert len(after.history) - len(before.history) == 2
    assert len(after.events) - len(before.events) == 2


async def test_roles_falling_back_to_the_default_are_counted_not_changed(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    s = await contacts_abc(client, team)
    await add_domain(client, team, name="pinned.test", contacts={"tech": s.default})
    await add_domain(client, team, name="unset.test")
    await add_domain(
        client,
        team,
        name="full.test",
        contacts=dict.fromkeys(("owner", "admin", "tech", "billing"), s.c),
    )
    before = await stored(db, team.id)

    done = await reassign(client, team, s.default, to=s.b)
    assert done.status_code == 200, done.text
    data = done.json()["data"]
    assert [(d["name"], d["roles"]) for d in data["domains"]] == [("pinned.test", ["tech"])]
    # pinned.test (its other three roles) and unset.test fall back to the default.
    assert data["default_fallback"] == 2
    after = await stored(db, team.id)
    assert after.roles["pinned.test"] == {"tech": s.b}
    assert "unset.test" not in after.roles
    assert len(after.history) == len(before.history) + 1

    only_tech = await reassign(client, team, s.default, to=s.b, roles=["tech"], dry_run=True)
    assert only_tech.json()["data"]["default_fallback"] == 1  # unset.test
    selected = await reassign(client, team, s.default, to=s.b, domains=["full.test"], dry_run=True)
    assert selected.json()["data"]["default_fallback"] == 0
    # A contact that is not the default has no fallback roles.
    other = await reassign(client, team, s.c, to=s.b, dry_run=True)
    assert other.json()["data"]["default_fallback"] == 0
    assert other.json()["data"]["count"] == 1


async def test_bad_requests_name_the_field_and_change_nothing(
    client: httpx.AsyncClient, team: Team, other_team: Team, db: Database
) -> None:
    s = await contacts_abc(client, team)
    await domains_using_a(client, team, s)
    foreign = (await create_contact(client, other_team))["handle"]
    before = await stored(db, team.id)

    unknown_to = field_errors(await reassign(client, team, s.a, to="nosuchhandle"))
    assert unknown_to == {"to": ["contact `nosuchhandle` not found"]}
    # Another team's contact is indistinguishable from one that doesn't exist.
    assert field_errors(await reassign(client, team, s.a, to=foreign)) == {
        "to": [f"contact `{foreign}` not found"]
    }
    assert "to" in field_errors(await reassign(client, team, s.a, to=s.a))
    assert "to" in field_errors(await reassign(client, team, s.a))  # missing
    assert "roles.1" in field_errors(
        await reassign(client, team, s.a, to=s.b, roles=["owner", "registrar"])
    )
    assert "roles" in field_errors(await reassign(client, team, s.a, to=s.b, roles=[]))
    assert "domains" in field_errors(await reassign(client, team, s.a, to=s.b, domains=[]))
    too_many = [f"d{n}.test" for n in range(MAX_DOMAINS + 1)]
    assert "domains" in field_errors(await reassign(client, team, s.a, to=s.b, domains=too_many))
    errors = field_errors(
        await reassign(
            client,
            team,
            s.a,
            to="nosuchhandle",
            roles=["owner", "owner"],
            domains=["one.test", "no_dots", "missing.test"],
        )
    )
    # Every problem at once.
    assert errors.keys() == {"to", "domains.1", "domains.2"}
    assert errors["domains.2"] == ["domain `missing.test` not found"]
    assert "dry_run" in field_errors(await reassign(client, team, s.a, to=s.b, dry_run="yes"))
    assert "extra" in field_errors(await reassign(client, team, s.a, to=s.b, extra=1))

    for handle in ("nosuchhandle", foreign):
        message = error_message(await reassign(client, team, handle, to=s.b), 404)
        assert message == f"Contact `{handle}` not found"
    assert await stored(db, team.id) == before


async def test_another_team_cannot_reassign_or_see_the_contacts(
    client: httpx.AsyncClient, team: Team, other_team: Team, db: Database
) -> None:
    s = await contacts_abc(client, team)
    await domains_using_a(client, team, s)
    other = await contacts_abc(client, other_team)
    await add_domain(client, other_team, name="one.test", contacts={"owner": other.a})
    mine, theirs = await stored(db, team.id), await stored(db, other_team.id)

    response = await reassign(client, other_team, s.a, to=other.b)
    assert response.status_code == 404, response.text
    done = await reassign(client, other_team, other.a, to=other.b)
    assert [d["name"] for d in done.json()["data"]["domains"]] == ["one.test"]
    # The other team's one.test changed; ours (same name) did not.
    assert await stored(db, team.id) == mine
    assert (await stored(db, other_team.id)).roles["one.test"] == {"registrant": other.b}
    assert theirs.roles["one.test"] == {"registrant": other.a}


async def test_events_and_history_name_the_actor(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    s = await contacts_abc(client, team)
    await add_domain(client, team, name="actor.test", contacts={"admin": s.a})
    response = await client.post(
        reassign_url(s.a), json={"to": s.b}, headers={**team.headers, "X-Request-Id": "re-1"}
    )
    assert response.status_code == 200, response.text
    async with db.reader_sessions() as session:
        event = await session.scalar(
            select(OutboxEvent)
            .where(OutboxEvent.account_id == team.id, OutboxEvent.type == CONTACTS_CHANGED)
            .order_by(OutboxEvent.id.desc())
        )
        change = await session.scalar(
            select(DomainRoleChange)
            .where(DomainRoleChange.account_id == team.id)
            .order_by(DomainRoleChange.id.desc())
        )
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.account_id == team.id, OutboxEvent.request_id == "re-1")
        )
    assert event is not None
    assert change is not None
    assert event.payload == {
        "domain": "actor.test",
        "domain_id": event.payload["domain_id"],
        "roles": ["admin"],
    }
    assert event.actor["dialect"] == "native"
    assert change.dialect == "native"
    assert count == 1


async def test_a_registrant_change_waits_for_confirmation_and_the_dry_run_says_so(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    """cor-2024 with no agent: a gTLD's owner does not move until both registrants confirm;
    the other roles move; the dry run previews exactly that."""
    s = await contacts_abc(client, team, agent=False)
    await domains_using_a(client, team, s)
    preview = await reassign(client, team, s.a, to=s.b, dry_run=True)
    data = preview.json()["data"]
    assert data["pending_registrant_changes"] == ["one.test"]
    assert [(d["name"], d["roles"]) for d in data["domains"]] == [
        ("one.test", ["admin"]),
        ("three.test", ["billing"]),
        ("xn--bcher-kva.example", ["tech", "billing"]),
    ]
    done = await reassign(client, team, s.a, to=s.b)
    assert done.json()["data"] == {**data, "dry_run": False}
    assert (await stored(db, team.id)).roles["one.test"]["registrant"] == s.a
    pending = await client.get(
        "/api/v1/registrant-changes", params={"contact": s.b}, headers=team.headers
    )
    assert [(c["domain"], c["state"]) for c in pending.json()["data"]] == [("one.test", "pending")]
