"""Reading the events of an account in order, from a cursor, never missing or repeating one.

Ids come from a sequence when a row is inserted, but transactions commit in another order: the
event with id 7 can become visible after a client has read id 8, and a cursor at 8 would skip
it for good. So the order is the writing transaction's id (``txid``) and then the event id, and
on PostgreSQL the feed shows only events of transactions older than every transaction of this
database still running (``_HORIZON``). Anything committed later has a transaction id at least
that horizon, so it lands after every cursor handed out so far. A long transaction delays the feed
(never reorders it). SQLite's writers take turns, so ids are in commit order and ``txid`` is 0.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.errors import FieldErrors
from nichandle.events.models import OutboxEvent

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 50

# On PostgreSQL, the transaction ids below which every transaction of this database has ended:
# the oldest one still running here, else the next id to be handed out. Read in a statement of
# its own *before* the feed's (whose snapshot is therefore later): a transaction below it had
# ended when it was read, so the feed's snapshot sees it. Only this database's transactions
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


@dataclass(frozen=True)
class Position:
    """Where a reader is: after the event with this (txid, id)."""

    txid: int
    id: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.txid}.{self.id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> Position:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            txid, _, id_ = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition(".")
            position = cls(int(txid), int(id_))
        except (ValueError, UnicodeError, binascii.Error):
            raise _bad_cursor("is not a cursor this API handed out") from None
        if position.txid < 0 or position.id < 1:
            raise _bad_cursor("is not a cursor this API handed out")
        return position


@dataclass(frozen=True)
class EventFilter:
    types: Sequence[str] = ()  # catalogue names
    contact: str | None = None  # a handle
    domain: str | None = None  # an A-label


@dataclass(frozen=True)
class FeedPage:
    events: list[OutboxEvent]
    cursor: str | None  # where the next read starts; the given one when nothing is new
    has_more: bool


async def read_feed(
    session: AsyncSession,
    account_id: int,
    *,
    cursor: str | None,
    per_page: int,
    where: EventFilter,
) -> FeedPage:
    """Up to ``per_page`` events after ``cursor`` (from the first without one), in feed order."""
    after = Position.decode(cursor) if cursor else None
    if after is not None and not await _exists(session, account_id, after):
        raise _bad_cursor("names no event of this account")
    query = select(OutboxEvent).where(OutboxEvent.account_id == account_id)
    if after is not None:
        query = query.where(tuple_(OutboxEvent.txid, OutboxEvent.id) > tuple_(after.txid, after.id))
    if session.get_bind().dialect.name == "postgresql":
        horizon = await session.scalar(_HORIZON)
        query = query.where(OutboxEvent.txid < horizon)
    query = query.where(*_conditions(where))
    query = query.order_by(OutboxEvent.txid, OutboxEvent.id).limit(per_page + 1)
    rows = list(await session.scalars(query))
    events, has_more = rows[:per_page], len(rows) > per_page
    if events:
        last = events[-1]
        cursor = Position(last.txid, last.id).encode()
    return FeedPage(events=events, cursor=cursor, has_more=has_more)


def _conditions(where: EventFilter) -> list[ColumnElement[bool]]:
    """Read along the account's events from the cursor on (for a client polling with its
    cursor, the new ones only). No index on the resource: every row of a fan-out (10,000
    events for one busy registrant) would pay for it, and the write path is what must be fast."""
    conditions: list[ColumnElement[bool]] = []
    if where.types:
        conditions.append(OutboxEvent.type.in_(where.types))
    resources = [
        and_(OutboxEvent.resource_type == kind, OutboxEvent.resource_id == value)
        for kind, value in (("contact", where.contact), ("domain", where.domain))
        if value is not None
    ]
    if resources:
        conditions.append(or_(*resources))
    return conditions


async def _exists(session: AsyncSession, account_id: int, position: Position) -> bool:
    found = await session.scalar(
        select(OutboxEvent.id).where(
            OutboxEvent.account_id == account_id,
            OutboxEvent.id == position.id,
            OutboxEvent.txid == position.txid,
        )
    )
    return found is not None


def _bad_cursor(problem: str) -> FieldErrors:
    return FieldErrors.single("cursor", "invalid", problem)
