"""Change of registrant end to end, on SQLite and PostgreSQL: the write path starts changes, the
worker mails both parties over real SMTP, the links' pages confirm on POST, time moves (never
sleeps) through expiry and the 60-day lock, and cord-2026 applies at once and notifies."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from nichandle import clock
from nichandle.clock import FrozenClock
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.events.catalogue import CATALOGUE, Resource
from nichandle.events.models import OutboxEvent
from nichandle.registrant_changes.models import RegistrantChange
from nichandle.settings import Settings
from nichandle.worker.loop import Worker
from tests.conftest import Team, create_contact
from tests.dialects.namecom.helpers import auth
from tests.registrant_changes.conftest import Mailbox, body, change_link, drain, use_policy
from tests.verification.test_end_to_end import add_domain, confirm, native_domain

DAY = timedelta(days=1)


def address(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(4)}@example.com"


def label(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(3)}"


async def registrant_of(
    client: httpx.AsyncClient, team: Team, names: list[str], *, tag: str
) -> dict[str, Any]:
    owner = await create_contact(client, team, email=address(tag))
    for name in names:
        await add_domain(client, team, name, owner["handle"])
    return owner


async def edit(
    client: httpx.AsyncClient, team: Team, handle: str, **changes: Any
) -> httpx.Response:
    return await client.patch(f"/api/v1/contacts/{handle}", json=changes, headers=team.headers)


async def event_count(db: Database, team: Team, kind: str, domain: str | None = None) -> int:
    async with unit_of_work(db, write=False) as session:
        query = select(func.count()).where(
            OutboxEvent.account_id == team.id, OutboxEvent.type == kind
        )
        if domain is not None:
            query = query.where(OutboxEvent.resource_id == domain)
        return await session.scalar(query) or 0


async def changes_of(db: Database, team: Team) -> list[RegistrantChange]:
    async with unit_of_work(db, write=False) as session:
        query = select(RegistrantChange).where(RegistrantChange.account_id == team.id)
        return list(await session.scalars(query.order_by(RegistrantChange.domain_name)))


async def test_an_email_change_is_pending_until_both_confirm_then_locks_for_60_days(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox, db: Database
) -> None:
    tag = label("cor")
    gtlds = [f"{tag}-a.com", f"{tag}-b.net", f"{tag}-c.org"]
    cctld = f"{tag}-d.de"
    start = datetime.now(UTC)
    with clock.use(FrozenClock(start)) as frozen:
        assert isinstance(frozen, FrozenClock)
        owner = await registrant_of(client, team, [*gtlds, cctld], tag="prior")
        handle, old_email, new_email = owner["handle"], owner["email"], address("new")
        await drain(worker)  # the registrant verification of the new domains, not ours
        mailbox.received.clear()

        answer = await edit(client, team, handle, email=new_email)
        assert answer.status_code == 202, answer.text
        pending = answer.json()["registrant_changes"]
        assert [c["domain"] for c in pending] == sorted(gtlds)
        assert {c["state"] for c in pending} == {"pending"}
        assert {c["new_contact"] for c in pending} == {handle}
        assert {tuple(c["fields"]) for c in pending} == {("email",)}
        assert answer.json()["data"]["email"] == new_email  # the contact itself is edited

        # The gTLD domains keep the prior registrant (its details, under another handle) ...
        held = {c["prior_contact"] for c in pending}
        assert len(held) == 1
        assert handle not in held
        for name in gtlds:
            domain = await native_domain(client, team, name)
            assert domain["contacts"]["owner"] in held
            [notice] = [n for n in domain["notices"] if "registrant_change" in n["code"]]
            assert notice["data"]["new_contact"] == handle
            namecom = (await client.get(f"/core/v1/domains/{name}", auth=auth(team))).json()
            assert namecom["contacts"]["registrant"]["email"] == old_email
        # ... the ccTLD takes the edit at once.
        assert (await native_domain(client, team, cctld))["contacts"]["owner"] == handle

        await drain(worker)
        [to_prior], [to_new] = mailbox.to(old_email), mailbox.to(new_email)
        for mail in (to_prior, to_new):
            assert "confirm" in mail["Subject"].lower()
            assert all(name in body(mail) for name in gtlds)
            assert cctld not in body(mail)

        first = await confirm(client, change_link(to_prior))
        assert first.status_code == 200, first.text
        assert "when the new registrant confirms" in first.text
        assert (await native_domain(client, team, gtlds[0]))["contacts"]["owner"] in held
        reused = await client.get(change_link(to_prior))
        assert reused.status_code == 410

        frozen.advance(timedelta(hours=2))
        second = await confirm(client, change_link(to_new))
        assert second.status_code == 200, second.text
        assert "is complete" in second.text
        applied_at = frozen.at
        for name in gtlds:
            domain = await native_domain(client, team, name)
            assert domain["contacts"]["owner"] == handle
            assert domain["transfer_prohibited"] is True
            lock_until = datetime.fromisoformat(domain["transfer_lock_until"])
            assert lock_until == applied_at + 60 * DAY
            assert not [n for n in domain["notices"] if "registrant_change" in n["code"]]
            namecom = (await client.get(f"/core/v1/domains/{name}", auth=auth(team))).json()
            assert namecom["locked"] is True
            assert namecom["contacts"]["registrant"]["email"] == new_email
        assert (await native_domain(client, team, cctld))["transfer_lock_until"] is None
        for kind, count in (
            ("domain.registrant_change.started", 3),
            ("domain.registrant_change.confirmed", 6),
            ("domain.registrant_change.applied", 3),
            ("domain.transfer_lock.added", 3),
        ):
            assert await event_count(db, team, kind) == count, kind

        await drain(worker)
        for party in (old_email, new_email):
            ours = [m for m in mailbox.to(party) if "change of registrant" in m["Subject"]]
            assert ["complete" in m["Subject"] for m in ours] == [False, True]
            assert "60 days" in body(ours[-1])

        # Day 60: the lock ends on its own (read from the time), and the worker says so.
        frozen.at = applied_at + 60 * DAY - timedelta(seconds=1)
        assert (await native_domain(client, team, gtlds[0]))["transfer_prohibited"] is True
        await drain(worker)
        assert await event_count(db, team, "domain.transfer_lock.removed") == 0
        frozen.at = applied_at + 60 * DAY
        domain = await native_domain(client, team, gtlds[0])
        assert domain["transfer_prohibited"] is False
        namecom = (await client.get(f"/core/v1/domains/{gtlds[0]}", auth=auth(team))).json()
        assert namecom["locked"] is False
        await drain(worker)
        assert await event_count(db, team, "domain.transfer_lock.removed") == 3
    await assert_typed(db, team)


async def assert_typed(db: Database, team: Team) -> None:
    """Every change-of-registrant and transfer-lock event has its type's keys and resource."""
    async with unit_of_work(db, write=False) as session:
        query = select(OutboxEvent).where(OutboxEvent.account_id == team.id)
        events = [
            e
            for e in await session.scalars(query)
            if "registrant_change" in e.type or "transfer_lock." in e.type
        ]
    assert events
    for event in events:
        kind = CATALOGUE[event.type]
        keys = set(event.payload)
        assert kind.payload.__required_keys__ <= keys <= kind.payload.__annotations__.keys(), event
        resource = Resource(event.resource_type, event.resource_id, event.resource_parent)
        assert resource == kind.resource(event.payload)


async def test_an_opted_out_domain_gets_no_lock(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox
) -> None:
    tag = label("optout")
    names = [f"{tag}-a.com", f"{tag}-b.com"]
    owner = await registrant_of(client, team, names, tag="optout")
    opted = await client.patch(
        f"/api/v1/domains/{names[0]}", json={"transfer_lock_opt_out": True}, headers=team.headers
    )
    assert opted.status_code == 200, opted.text
    new_email = address("optout-new")
    assert (await edit(client, team, owner["handle"], email=new_email)).status_code == 202
    await drain(worker)
    for mail in (mailbox.to(owner["email"])[-1], mailbox.to(new_email)[-1]):
        assert (await confirm(client, change_link(mail))).status_code == 200
    opted_out, locked = [await native_domain(client, team, name) for name in names]
    assert opted_out["contacts"]["owner"] == locked["contacts"]["owner"] == owner["handle"]
    assert opted_out["transfer_lock_until"] is None
    assert opted_out["transfer_prohibited"] is False
    assert locked["transfer_lock_until"] is not None


async def test_an_unconfirmed_change_expires_on_its_day_and_both_are_told(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox, db: Database
) -> None:
    tag = label("expire")
    start = datetime.now(UTC)
    with clock.use(FrozenClock(start)) as frozen:
        assert isinstance(frozen, FrozenClock)
        owner = await registrant_of(client, team, [f"{tag}.com"], tag="expire")
        new_email = address("expire-new")
        answer = await edit(client, team, owner["handle"], email=new_email)
        [change] = answer.json()["registrant_changes"]
        assert datetime.fromisoformat(change["expires_at"]) == start + 7 * DAY
        await drain(worker)
        link = change_link(mailbox.to(new_email)[-1])

        frozen.at = start + 7 * DAY - timedelta(seconds=1)
        await drain(worker)
        read = await client.get(f"/api/v1/registrant-changes/{change['id']}", headers=team.headers)
        assert read.json()["data"]["state"] == "pending"

        frozen.at = start + 7 * DAY
        await drain(worker)
        read = await client.get(f"/api/v1/registrant-changes/{change['id']}", headers=team.headers)
        assert read.json()["data"]["state"] == "expired"
        assert await event_count(db, team, "domain.registrant_change.expired", f"{tag}.com") == 1
        assert "expired" in mailbox.to(new_email)[-1]["Subject"]
        assert "expired" in mailbox.to(owner["email"])[-1]["Subject"]
        # The domain keeps its prior registrant; the link no longer works.
        domain = await native_domain(client, team, f"{tag}.com")
        assert domain["contacts"]["owner"] == change["prior_contact"]
        assert (await client.get(link)).status_code == 410


async def test_a_dispute_hold_refuses_and_a_typo_fix_is_no_change(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    tag = label("hold")
    owner = await registrant_of(client, team, [f"{tag}.com"], tag="hold")
    held = await client.patch(
        f"/api/v1/domains/{tag}.com", json={"dispute_hold": True}, headers=team.headers
    )
    assert held.status_code == 200, held.text
    refused = await edit(client, team, owner["handle"], email=address("hold-new"))
    assert refused.status_code == 409
    assert "dispute hold" in refused.json()["message"]

    fixed = await edit(
        client, team, owner["handle"], last_name=owner["last_name"] + "e", typo_correction=True
    )
    assert fixed.status_code == 200, fixed.text
    assert "registrant_changes" not in fixed.json()
    assert await event_count(db, team, "domain.registrant_change.started", f"{tag}.com") == 0


async def test_cord_2026_applies_at_once_locks_nothing_and_notifies_the_prior_email(
    client: httpx.AsyncClient,
    team: Team,
    worker: Worker,
    mailbox: Mailbox,
    db: Database,
    settings: Settings,
    policy: object,
) -> None:
    use_policy(settings, transfer_policy="cord-2026", registrant_change_notice_delay_minutes=60)
    tag = label("cord")
    names = [f"{tag}-a.com", f"{tag}-b.org"]
    start = datetime.now(UTC)
    with clock.use(FrozenClock(start)) as frozen:
        assert isinstance(frozen, FrozenClock)
        owner = await registrant_of(client, team, names, tag="cord")
        await drain(worker)
        new_email = address("cord-new")
        answer = await edit(client, team, owner["handle"], email=new_email)
        assert answer.status_code == 200, answer.text
        for name in names:
            domain = await native_domain(client, team, name)
            assert domain["contacts"]["owner"] == owner["handle"]
            assert domain["transfer_lock_until"] is None
        assert await event_count(db, team, "domain.registrant_change.applied") >= 2
        await drain(worker)
        assert not [m for m in mailbox.to(owner["email"]) if "changed" in m["Subject"]]

        frozen.at = start + timedelta(minutes=60)  # the stored due time, within 24 hours
        await drain(worker)
        [to_prior] = [m for m in mailbox.to(owner["email"]) if "changed" in m["Subject"]]
        [to_new] = [m for m in mailbox.to(new_email) if "changed" in m["Subject"]]
        for mail in (to_prior, to_new):
            assert all(name in body(mail) for name in names)
            assert "reverse" in body(mail)


async def test_cord_2026_notices_respect_the_registrants_opt_out(
    client: httpx.AsyncClient,
    team: Team,
    worker: Worker,
    mailbox: Mailbox,
    settings: Settings,
    policy: object,
) -> None:
    use_policy(settings, transfer_policy="cord-2026")
    owner = await registrant_of(client, team, [f"{label('quiet')}.com"], tag="quiet")
    url = f"/api/v1/contacts/{owner['handle']}/registrant-change-notices"
    off = await client.put(url, json={"enabled": False}, headers=team.headers)
    assert off.status_code == 200, off.text
    assert off.json()["data"]["enabled"] is False
    assert off.json()["data"]["opted_out_at"] is not None
    new_email = address("quiet-new")
    await edit(client, team, owner["handle"], email=new_email)
    await drain(worker)
    assert not [m for m in mailbox.to(new_email) if "changed" in m["Subject"]]
    # The prior address is told all the same: it is no longer the registrant's.
    assert [m for m in mailbox.to(owner["email"]) if "changed" in m["Subject"]]


async def test_a_new_owner_through_a_domain_patch_waits_and_can_be_cancelled(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox, db: Database
) -> None:
    tag = label("repoint")
    name = f"{tag}.com"
    owner = await registrant_of(client, team, [name], tag="repoint-prior")
    other = await create_contact(client, team, email=address("repoint-new"))
    moved = await client.patch(
        f"/api/v1/domains/{name}",
        json={"contacts": {"owner": other["handle"]}},
        headers=team.headers,
    )
    assert moved.status_code == 202, moved.text
    assert moved.json()["data"]["contacts"]["owner"] == owner["handle"]
    notices = moved.json()["data"]["notices"]
    [notice] = [n for n in notices if n["code"] == "domain.registrant_change.pending"]
    change_id = notice["data"]["registrant_change_id"]

    listed = await client.get(
        "/api/v1/registrant-changes",
        params={"domain": name, "state": "pending"},
        headers=team.headers,
    )
    assert [c["id"] for c in listed.json()["data"]] == [change_id]
    by_contact = await client.get(
        "/api/v1/registrant-changes", params={"contact": other["handle"]}, headers=team.headers
    )
    assert [c["id"] for c in by_contact.json()["data"]] == [change_id]
    # The new registrant of a pending change can't be deleted from under it.
    deleted = await client.delete(f"/api/v1/contacts/{other['handle']}", headers=team.headers)
    assert deleted.status_code == 409
    assert name in deleted.json()["message"]

    await drain(worker)
    link = change_link(mailbox.to(other["email"])[-1])
    assert (await client.get(link)).status_code == 200
    cancelled = await client.delete(f"/api/v1/registrant-changes/{change_id}", headers=team.headers)
    assert cancelled.status_code == 204
    again = await client.delete(f"/api/v1/registrant-changes/{change_id}", headers=team.headers)
    assert again.status_code == 409
    read = await client.get(f"/api/v1/registrant-changes/{change_id}", headers=team.headers)
    assert read.json()["data"]["state"] == "cancelled"
    assert await event_count(db, team, "domain.registrant_change.cancelled", name) == 1
    assert (await client.get(link)).status_code == 410
    assert (await native_domain(client, team, name))["contacts"]["owner"] == owner["handle"]
    missing = await client.get("/api/v1/registrant-changes/999999", headers=team.headers)
    assert missing.status_code == 404


async def test_editing_the_new_registrant_again_asks_both_parties_again(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox, db: Database
) -> None:
    tag = label("again")
    name = f"{tag}.com"
    owner = await registrant_of(client, team, [name], tag="again-prior")
    handle, old_email = owner["handle"], owner["email"]
    first_email, second_email = address("again-first"), address("again-second")
    await drain(worker)
    mailbox.received.clear()

    assert (await edit(client, team, handle, email=first_email)).status_code == 202
    await drain(worker)
    stale = change_link(mailbox.to(first_email)[-1])
    # What the parties were asked to confirm is no longer what would apply: asked again.
    again = await edit(client, team, handle, email=second_email)
    assert again.status_code == 202, again.text
    [pending] = again.json()["registrant_changes"]
    assert pending["domain"] == name
    changes = await changes_of(db, team)
    assert [c.state.value for c in changes] == ["cancelled", "pending"]
    assert (await client.get(stale)).status_code == 410
    await drain(worker)
    assert not mailbox.to(first_email)[1:]  # the address it no longer has is not asked again
    for to in (old_email, second_email):
        confirmed = await confirm(client, change_link(mailbox.to(to)[-1]))
        assert confirmed.status_code == 200, confirmed.text
    domain = await native_domain(client, team, name)
    assert domain["contacts"]["owner"] == handle
    namecom = (await client.get(f"/core/v1/domains/{name}", auth=auth(team))).json()
    assert namecom["contacts"]["registrant"]["email"] == second_email

    # Back to the prior details while pending: no change of registrant is left to confirm.
    other = f"{tag}-back.com"
    back = await registrant_of(client, team, [other], tag="back-prior")
    held = await edit(client, team, back["handle"], email=address("back-new"))
    assert held.status_code == 202, held.text
    returned = await edit(client, team, back["handle"], email=back["email"])
    assert returned.status_code == 200, returned.text
    listed = await client.get(
        "/api/v1/registrant-changes", params={"domain": other}, headers=team.headers
    )
    assert [c["state"] for c in listed.json()["data"]] == ["cancelled"]
    assert await event_count(db, team, "domain.registrant_change.cancelled", other) == 1


async def test_a_new_default_changes_the_unset_registrants_only_once_both_confirm(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox, db: Database
) -> None:
    tag = label("default")
    first = await create_contact(client, team, email=address("default-prior"), is_default=True)
    gtld, cctld = f"{tag}.com", f"{tag}.de"
    for name in (gtld, cctld):
        created = await client.post("/api/v1/domains", json={"name": name}, headers=team.headers)
        assert created.status_code == 201, created.text
        assert created.json()["data"]["contacts"]["owner"] == first["handle"]
    second = await create_contact(client, team, email=address("default-new"), first_name="Piet")
    await drain(worker)
    mailbox.received.clear()

    moved = await edit(client, team, second["handle"], is_default=True)
    assert moved.status_code == 202, moved.text
    assert moved.json()["data"]["is_default"] is True
    [pending] = moved.json()["registrant_changes"]
    assert (pending["domain"], pending["state"]) == (gtld, "pending")
    assert (pending["prior_contact"], pending["new_contact"]) == (first["handle"], second["handle"])
    assert set(pending["fields"]) == {"first_name", "email"}
    # The gTLD keeps the prior default, now named by its own role row; the ccTLD follows.
    assert (await native_domain(client, team, gtld))["contacts"]["owner"] == first["handle"]
    assert (await native_domain(client, team, cctld))["contacts"]["owner"] == second["handle"]

    await drain(worker)
    for party in (first, second):
        [mail] = mailbox.to(party["email"])
        assert gtld in body(mail)
        assert cctld not in body(mail)
        confirmed = await confirm(client, change_link(mail))
        assert confirmed.status_code == 200, confirmed.text
    domain = await native_domain(client, team, gtld)
    assert domain["contacts"]["owner"] == second["handle"]
    assert domain["transfer_lock_until"] is not None
    assert await event_count(db, team, "domain.registrant_change.applied", gtld) == 1


async def test_a_designated_agent_for_both_parties_applies_at_once_with_the_lock(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    agent = await client.post(
        "/api/v1/designated-agents",
        json={"name": "Reseller Ltd", "email": "agent@example.net", "parties": "both"},
        headers=team.headers,
    )
    assert agent.status_code == 201, agent.text
    agent_id = agent.json()["data"]["id"]
    try:
        tag = label("agent")
        owner = await registrant_of(client, team, [f"{tag}.com"], tag="agent")
        answer = await edit(client, team, owner["handle"], email=address("agent-new"))
        assert answer.status_code == 200, answer.text
        domain = await native_domain(client, team, f"{tag}.com")
        assert domain["contacts"]["owner"] == owner["handle"]
        assert domain["transfer_lock_until"] is not None
        listed = await client.get(
            "/api/v1/registrant-changes", params={"domain": f"{tag}.com"}, headers=team.headers
        )
        [change] = listed.json()["data"]
        assert change["state"] == "applied"
        assert change["confirmations"]["prior"]["by"] == f"agent:{agent_id}"
        assert change["confirmations"]["new"]["by"] == f"agent:{agent_id}"
    finally:
        revoked = await client.delete(f"/api/v1/designated-agents/{agent_id}", headers=team.headers)
        assert revoked.status_code == 204
    agents = (await client.get("/api/v1/designated-agents", headers=team.headers)).json()
    assert agents["data"][-1]["revoked_at"] is not None
    bad = await client.post(
        "/api/v1/designated-agents",
        json={"name": " ", "email": "nope", "parties": "both"},
        headers=team.headers,
    )
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"name", "email"}
