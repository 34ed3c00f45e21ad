"""Reading the events of an account in order, from a cursor, never missing or repeating one
(the order and why it holds: ``events/order.py``)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.errors import FieldErrors
from nichandle.events.models import OutboxEvent
from nichandle.events.order import START, Position, after, committed, position_of

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 50


def encode(position: Position) -> str:
    """A position as a cursor: opaque to clients."""
    return base64.urlsafe_b64encode(f"{position.txid}.{position.id}".encode()).decode().rstrip("=")


def decode(cursor: str) -> Position:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        txid, _, id_ = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition(".")
        position = Position(int(txid), int(id_))
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
    position = decode(cursor) if cursor else START
    if cursor and not await _exists(session, account_id, position):
        raise _bad_cursor("names no event of this account")
    query = select(OutboxEvent).where(
        OutboxEvent.account_id == account_id,
        after(position),
        *await committed(session),
        *_conditions(where),
    )
    query = query.order_by(OutboxEvent.txid, OutboxEvent.id).limit(per_page + 1)
    rows = list(await session.scalars(query))
    events, has_more = rows[:per_page], len(rows) > per_page
    if events:
        cursor = encode(position_of(events[-1]))
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
