"""The outbox in commit order: how the feed and the dispatcher read events without missing one.

Ids come from a sequence when a row is inserted, but transactions commit in another order: the
event with id 7 can become visible after a reader has passed id 8, and a position at 8 would
skip it for good. So the order is the writing transaction's id (``txid``) and then the event
id, and on PostgreSQL a reader takes only events of transactions older than every transaction
of this database still running (``horizon``). Anything committed later has a transaction id at
least that horizon, so it lands after every position read so far. A long transaction delays
readers (never reorders them). SQLite's writers take turns, so ids are in commit order and
``txid`` is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.events.models import OutboxEvent

# On PostgreSQL, the transaction ids below which every transaction of this database has ended:
# the oldest one still running here, else the next id to be handed out. Read in a statement of
# its own *before* the reader's (whose snapshot is therefore later): a transaction below it had
# ended when it was read, so the reader's snapshot sees it. Only this database's transactions
# count (pg_snapshot_xmin would wait for every database of the server). backend_xid is 32 bits
# and txid 64 (xid8): the epoch comes from the next id, one epoch back when it would pass it.
_HORIZON = text(
    """
    WITH next AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS full_id)
    SELECT coalesce(
        (SELECT min(CASE WHEN epoch + xid > next.full_id THEN epoch + xid - 4294967296
                         ELSE epoch + xid END)
         FROM (SELECT backend_xid::text::bigint AS xid,
                      next.full_id - next.full_id % 4294967296 AS epoch
               FROM pg_stat_activity, next
               WHERE datname = current_database() AND backend_xid IS NOT NULL) AS running,
              next),
        next.full_id)
    FROM next
    """
)


@dataclass(frozen=True, order=True)
class Position:
    """Where a reader is: after the event with this (txid, id)."""

    txid: int
    id: int


START = Position(0, 0)  # before every event


def after(position: Position) -> ColumnElement[bool]:
    """The events after ``position``, to be read in ``txid, id`` order."""
    return tuple_(OutboxEvent.txid, OutboxEvent.id) > tuple_(position.txid, position.id)


async def committed(session: AsyncSession) -> list[ColumnElement[bool]]:
    """The events no running transaction can still precede. Call it before the statement that
    reads them (a statement of its own: the read's snapshot must be later)."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    return [OutboxEvent.txid < await session.scalar(_HORIZON)]


def position_of(event: OutboxEvent) -> Position:
    return Position(event.txid, event.id)
