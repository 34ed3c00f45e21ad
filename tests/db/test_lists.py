"""A column among a list (db.lists.among): one statement and one bound parameter however long
the list, the same rows as an IN list, on both databases; numbers and text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, event, select, update

from nichandle.db.engine import Database
from nichandle.db.lists import among
from nichandle.db.rows import insert_rows_with_ids
from nichandle.db.session import unit_of_work
from nichandle.events.models import OutboxEvent
from tests.conftest import make_team

OUTBOX = cast(Table, OutboxEvent.__table__)


def _event(account_id: int, n: int) -> dict[str, Any]:
    return {
        "uuid": f"00000000-0000-4000-8000-{n:012d}",
        "account_id": account_id,
        "type": f"lists.{n}",
        "resource_type": "contact",
        "resource_id": f"h{n}",
        "payload": {},
        "actor_token_id": None,
        "actor_dialect": "system",
        "occurred_at": datetime.now(UTC),
    }


async def test_a_long_list_is_one_statement_with_one_parameter(db: Database) -> None:
    team = await make_team(db)
    async with unit_of_work(db) as session:
        ids = await insert_rows_with_ids(
            session, OUTBOX, [_event(team.id, n) for n in range(1500)], key="type"
        )
    # More ids than either database takes as bound parameters of one statement, most unknown.
    wanted = [ids["lists.7"], ids["lists.1499"], *range(10**9, 10**9 + 40_000)]
    sent: list[Any] = []

    def count(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if "outbox_event" in statement:
            sent.append(parameters)

    event.listen(db.writer.sync_engine, "before_cursor_execute", count)
    try:
        async with unit_of_work(db) as session:
            query = select(OutboxEvent.type).where(among(OutboxEvent.id, wanted))
            found = set((await session.scalars(query)).all())
    finally:
        event.remove(db.writer.sync_engine, "before_cursor_execute", count)
    assert found == {"lists.7", "lists.1499"}
    assert len(sent) == 1
    assert len(sent[0]) == 1


async def test_text_and_the_empty_list_match_as_an_in_list_would(db: Database) -> None:
    team = await make_team(db)
    async with unit_of_work(db) as session:
        await insert_rows_with_ids(
            session, OUTBOX, [_event(team.id, n) for n in range(5)], key="type"
        )
    names = ["lists.1", "lists.3", "lists.3", "no such", 'Zoë\'s "quoted" ,[]']
    async with unit_of_work(db) as session:
        mine = OutboxEvent.account_id == team.id
        found = (
            await session.scalars(
                select(OutboxEvent.type).where(mine, among(OutboxEvent.type, names))
            )
        ).all()
        assert sorted(found) == ["lists.1", "lists.3"]
        assert (
            await session.scalars(select(OutboxEvent.id).where(among(OutboxEvent.id, [])))
        ).all() == []
        # In a write too (the same statement, cached, with another list).
        await session.execute(
            update(OutboxEvent)
            .where(mine, among(OutboxEvent.type, ["lists.4"]))
            .values(resource_id="moved")
        )
        moved = (
            await session.scalars(
                select(OutboxEvent.type).where(mine, OutboxEvent.resource_id == "moved")
            )
        ).all()
    assert moved == ["lists.4"]
