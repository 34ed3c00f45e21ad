"""Dispatch from a stored position (migration 0008): where an upgraded database starts, so no
event that 0007's per-event marks left undispatched is lost."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import DBAPIError

from nichandle import write_path
from nichandle.accounts.service import Actor
from nichandle.contacts.service import create_contact
from nichandle.db import migrate
from nichandle.db.engine import Database, create_database
from nichandle.db.session import unit_of_work
from nichandle.events.models import DISPATCH, Delivery, DispatchPosition, OutboxEvent
from nichandle.settings import Settings
from nichandle.webhooks.models import Webhook, WebhookDialect
from nichandle.worker import dispatch
from tests.conftest import Team, make_team
from tests.contacts.test_search_index import person
from tests.fresh_database import BACKENDS, fresh_database

PEOPLE = itertools.count()  # distinct contacts (an identical one would be the same contact)


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(request.param, tmp_path) as fresh:
        write_path.connect()  # as the app does: services write through the one write path
        db = create_database(Settings(database_url=fresh.url))
        try:
            await migrate.upgrade(db)
            yield db
        finally:
            await db.dispose()


async def write_events(db: Database, count: int, team: Team | None = None) -> list[OutboxEvent]:
    """``count`` contact.created events of ``team`` (a new one without); every event so far."""
    team = team or await make_team(db)
    actor = Actor(account_id=team.id, token_id=None, dialect="system")
    for _ in range(count):
        async with unit_of_work(db) as session:  # a transaction each: txids differ on PostgreSQL
            await create_contact(session, actor, person(next(PEOPLE)))
    async with unit_of_work(db, write=False) as session:
        return list(await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


async def test_events_nobody_receives_are_passed_by_in_the_same_round(database: Database) -> None:
    listened, unheard = await make_team(database), await make_team(database)
    async with unit_of_work(database) as session:
        session.add(
            Webhook(
                account_id=listened.id,
                dialect=WebhookDialect.NATIVE,
                url="https://hooks.example.com/nichandle",
                secret="whsec_" + "A" * 43,
            )
        )
    for team in (unheard, listened, unheard, listened, listened, unheard):
        await write_events(database, 1, team)
    events = await write_events(database, 0, unheard)
    heard = [event.id for event in events if event.account_id == listened.id]

    async def round_(limit: int) -> tuple[int, list[int], tuple[int, int]]:
        async with unit_of_work(database) as session:
            handed_on = await dispatch.dispatch(session, limit=limit, stream=False)
        async with unit_of_work(database, write=False) as session:
            ids = await session.scalars(select(Delivery.event_id).order_by(Delivery.event_id))
            position = await session.get(DispatchPosition, DISPATCH)
            assert position is not None
            return handed_on, list(ids), (position.txid, position.event_id)

    # A full batch of two: the position stops at the second heard event.
    assert await round_(2) == (2, heard[:2], (events[3].txid, events[3].id))
    # Fewer than a batch: past every visible event, the unheard last one included.
    assert await round_(2) == (1, heard, (events[-1].txid, events[-1].id))
    assert await round_(2) == (0, heard, (events[-1].txid, events[-1].id))


async def streamed(db: Database) -> list[int]:
    """Dispatches everything (to the stream, so every event gets a delivery): the event ids."""
    async with unit_of_work(db) as session:
        await dispatch.dispatch(session, limit=100, stream=True)
    async with unit_of_work(db, write=False) as session:
        return list(await session.scalars(select(Delivery.event_id).order_by(Delivery.event_id)))


async def test_upgrade_starts_before_the_first_event_left_undispatched(database: Database) -> None:
    first, second, third = await write_events(database, 3)
    await migrate.downgrade(database, "0007")  # all three undispatched in 0007's terms
    async with unit_of_work(database) as session:
        await session.execute(
            text("UPDATE outbox_event SET dispatched_at = occurred_at WHERE id IN (:a, :c)"),
            {"a": first.id, "c": third.id},
        )
    await migrate.upgrade(database)
    async with unit_of_work(database, write=False) as session:
        position = await session.get(DispatchPosition, DISPATCH)
    assert position is not None
    assert (position.txid, position.event_id) == (second.txid, second.id - 1)
    # The second goes out, and the third again (at-least-once); the first never.
    assert await streamed(database) == [second.id, third.id]


async def test_upgrade_with_everything_dispatched_starts_after_the_last_event(
    database: Database,
) -> None:
    *_, last = await write_events(database, 2)
    await migrate.downgrade(database, "0007")
    async with unit_of_work(database) as session:
        await session.execute(text("UPDATE outbox_event SET dispatched_at = occurred_at"))
    await migrate.upgrade(database)
    async with unit_of_work(database, write=False) as session:
        position = await session.get(DispatchPosition, DISPATCH)
    assert position is not None
    assert (position.txid, position.event_id) == (last.txid, last.id)
    assert await streamed(database) == []


async def test_downgrade_marks_what_the_position_passed_dispatched(database: Database) -> None:
    events = await write_events(database, 3)
    async with unit_of_work(database) as session:
        await dispatch.dispatch(session, limit=2, stream=True)  # the first two
    await migrate.downgrade(database, "0007")
    async with unit_of_work(database, write=False) as session:
        rows = await session.execute(
            text("SELECT id, dispatched_at IS NOT NULL FROM outbox_event ORDER BY id")
        )
        marked = [(id_, bool(done)) for id_, done in rows]
    assert marked == [(events[0].id, True), (events[1].id, True), (events[2].id, False)]


async def test_uuids_published_before_0008_are_kept_and_later_ones_written_down_on_downgrade(
    database: Database,
) -> None:
    (derived,) = await write_events(database, 1)
    assert derived.stored_uuid is None
    await migrate.downgrade(database, "0007")  # 0007 stores every UUID: the derived one too
    async with unit_of_work(database) as session:
        stored = await session.scalar(text("SELECT uuid FROM outbox_event"))
        assert stored == derived.uuid
        # As 0007 made them: random, for an event written before the upgrade.
        await session.execute(text("UPDATE outbox_event SET uuid = :u"), {"u": str(uuid4())})
        published = await session.scalar(text("SELECT uuid FROM outbox_event"))
    await migrate.upgrade(database)
    later = (await write_events(database, 1))[-1]
    async with unit_of_work(database, write=False) as session:
        kept = await session.get(OutboxEvent, derived.id)
    assert kept is not None
    assert (kept.uuid, kept.stored_uuid) == (published, published)
    assert later.stored_uuid is None
    assert UUID(later.uuid).version == 8
    assert later.uuid != kept.uuid


async def test_a_webhook_deleted_during_dispatch_waits_for_its_deliveries(
    database: Database,
) -> None:
    """Otherwise the deliveries' insert fails on the foreign key, and the round with it."""
    if database.is_sqlite:
        pytest.skip("SQLite's one writer: a delete cannot come between dispatch's read and insert")
    team = await make_team(database)
    async with unit_of_work(database) as session:
        webhook = Webhook(
            account_id=team.id,
            dialect=WebhookDialect.NATIVE,
            url="https://hooks.example.com/nichandle",
            secret="whsec_" + "A" * 43,
        )
        session.add(webhook)
    await write_events(database, 1, team)

    async def delete_webhook() -> None:
        async with unit_of_work(database) as deleting:
            await deleting.execute(text("SET LOCAL lock_timeout = '300ms'"))
            await deleting.execute(delete(Webhook).where(Webhook.id == webhook.id))

    async with unit_of_work(database) as dispatching:
        assert await dispatch.dispatch(dispatching, limit=10, stream=False) == 1
        with pytest.raises(DBAPIError, match="lock timeout"):
            await delete_webhook()
    await delete_webhook()  # once the deliveries are in, it goes
