"""domains.reassign at scale: a contact serving over a thousand domains, found and locked in a
constant number of statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, select

from nichandle.accounts.service import Actor
from nichandle.contacts import service as contacts
from nichandle.contacts.models import Contact
from nichandle.db.base import utcnow
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.domains.models import Domain, DomainContact
from nichandle.domains.reassign import reassign_contact
from nichandle.events.models import OutboxEvent
from nichandle.history.models import DomainRoleChange
from nichandle.registrant_changes.models import ChangeState, RegistrantChange
from tests.conftest import Team, contact_payload

DOMAINS = 1_050


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    executed: list[str] = []

    def count(*args: Any) -> None:
        executed.append(args[2])

    engine = db.writer.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield executed
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def serving(db: Database, team: Team, count: int, tld: str = "nl") -> tuple[Contact, Contact]:
    """Contacts A and B; A as registrant and tech of ``count`` domains (written directly, as
    thousands of API calls would be the slow part of the test)."""
    actor = Actor(team.id, None, "test")
    async with unit_of_work(db) as session:
        made = [
            await contacts.create_contact(
                session, actor, contact_payload(email=f"{tag}@example.com", first_name=tag)
            )
            for tag in ("Default", "Alpha", "Bravo")
        ]
        _default, a, b = (outcome.contact for outcome in made)
        now = utcnow()
        for n in range(count):
            session.add(
                Domain(
                    account_id=team.id,
                    name=f"bulk-{n:05d}.{tld}",
                    tld=tld,
                    created_at=now,
                    updated_at=now,
                    expires_at=now + timedelta(days=365),
                    nameservers=[],
                    roles=[
                        DomainContact(role=role, account_id=team.id, contact_id=a.id)
                        for role in ("registrant", "tech")
                    ],
                )
            )
    return a, b


async def test_a_contact_on_thousands_of_domains_moves_in_one_call(
    db: Database, team: Team
) -> None:
    a, b = await serving(db, team, DOMAINS)
    actor = Actor(team.id, None, "test")
    with statements(db) as executed:
        async with unit_of_work(db) as session:
            preview = await reassign_contact(session, actor, a.handle, b.handle, dry_run=True)
    assert len(preview.domains) == DOMAINS
    # The handles, then one query for every domain: no statement per domain.
    assert len([s for s in executed if s.lstrip().upper().startswith("SELECT")]) <= 4

    async with unit_of_work(db) as session:
        done = await reassign_contact(session, actor, a.handle, b.handle)
    assert done.domains == preview.domains
    async with db.reader_sessions() as session:
        left = await session.scalar(
            select(func.count()).select_from(DomainContact).where(DomainContact.contact_id == a.id)
        )
        moved = await session.scalar(
            select(func.count()).select_from(DomainContact).where(DomainContact.contact_id == b.id)
        )
        history = await session.scalar(
            select(func.count())
            .select_from(DomainRoleChange)
            .where(
                DomainRoleChange.account_id == team.id, DomainRoleChange.after_handle == b.handle
            )
        )
        events = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.account_id == team.id, OutboxEvent.type == "domain.contacts_changed")
        )
    assert (left, moved, history, events) == (0, 2 * DOMAINS, 2 * DOMAINS, DOMAINS)


async def test_thousands_of_gtld_registrants_held_pending_cost_a_few_statements(
    db: Database, team: Team
) -> None:
    a, b = await serving(db, team, DOMAINS, tld="com")
    actor = Actor(team.id, None, "test")
    with statements(db) as executed:
        async with unit_of_work(db) as session:
            done = await reassign_contact(session, actor, a.handle, b.handle)
    # Each domain's tech role moves and its registrant waits for both parties (cor-2024); the
    # changes are started together, not one by one (the role moves are the ORM's to batch).
    assert len(done.pending_registrant) == DOMAINS
    assert [roles for _name, roles in done.domains] == [["tech"]] * DOMAINS
    assert len([s for s in executed if "registrant_change" in s]) < 10
    async with db.reader_sessions() as session:
        changes = (
            await session.execute(
                select(RegistrantChange.request_id, RegistrantChange.state).where(
                    RegistrantChange.account_id == team.id
                )
            )
        ).all()
        registrants = await session.scalar(
            select(func.count())
            .select_from(DomainContact)
            .where(DomainContact.contact_id == a.id, DomainContact.role == "registrant")
        )
        started = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(
                OutboxEvent.account_id == team.id,
                OutboxEvent.type == "domain.registrant_change.started",
            )
        )
    assert len(changes) == DOMAINS
    assert {state for _request, state in changes} == {ChangeState.PENDING}
    assert len({request for request, _state in changes}) == 1
    assert (registrants, started) == (DOMAINS, DOMAINS)
