"""Dispatching: an event becomes one delivery per destination that wants it.

Claiming, rendering the bodies, inserting the deliveries and marking the events dispatched are
one transaction, so an event is dispatched exactly once: a worker killed halfway leaves it
undispatched for the next. PostgreSQL workers claim with ``FOR UPDATE SKIP LOCKED`` and never
wait on each other; SQLite's writer transaction (BEGIN IMMEDIATE) already holds the one write
lock, and the statement repeats the conditions, so two workers cannot both claim a row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.models import Account
from nichandle.db.base import utcnow
from nichandle.dialects.native.events import EventRead
from nichandle.events.models import Channel, Delivery, OutboxEvent
from nichandle.webhooks.models import Webhook
from nichandle.webhooks.service import delivery_text
from nichandle.worker.bodies import BODIES

# How long an event no body can be rendered for waits before it is tried again (after a fix,
# say); meanwhile the events after it go on.
SET_ASIDE = timedelta(hours=1)


class Unrenderable(Exception):
    """A dialect could not render an event's body: the event is set aside, not the outbox."""

    def __init__(self, event_id: int) -> None:
        super().__init__(f"no body could be rendered for event {event_id}")
        self.event_id = event_id


async def set_aside(session: AsyncSession, event_id: int) -> None:
    """Leases an event nobody holds for SET_ASIDE, so the next rounds dispatch the others."""
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.dispatched_at.is_(None))
        .values(lease_until=utcnow() + SET_ASIDE)
        .execution_options(synchronize_session=False)
    )


async def has_undispatched(session: AsyncSession) -> bool:
    """A read first, so an idle worker never takes SQLite's write lock (partial index)."""
    found = await session.scalar(select(OutboxEvent.id).where(*_claimable(utcnow())).limit(1))
    return found is not None


def _claimable(now: datetime) -> list[ColumnElement[bool]]:
    return [
        OutboxEvent.dispatched_at.is_(None),
        or_(OutboxEvent.lease_until.is_(None), OutboxEvent.lease_until <= now),
    ]


async def dispatch(session: AsyncSession, *, limit: int, stream: bool) -> int:
    """Dispatches up to ``limit`` events in id order; how many. ``stream``: each event also
    gets a delivery to the Redis Stream."""
    now = utcnow()
    claimed = (
        await session.execute(
            select(OutboxEvent.id, OutboxEvent.account_id)
            .where(*_claimable(now))
            .order_by(OutboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not claimed:
        return 0
    webhooks = await _active_webhooks(session, {account_id for _id, account_id in claimed})
    # Only events somebody receives are read whole: most accounts have no webhook, and one
    # contact's change fans out to thousands of events (their payloads are most of the cost).
    wanted = [id_ for id_, account_id in claimed if stream or account_id in webhooks]
    if wanted:
        events = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.id.in_(wanted)).order_by(OutboxEvent.id)
        )
        session.add_all(await _deliveries(session, list(events), webhooks, stream=stream))
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_([id_ for id_, _account_id in claimed]))
        .values(dispatched_at=now, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return len(claimed)


async def _active_webhooks(
    session: AsyncSession, account_ids: set[int]
) -> dict[int, list[Webhook]]:
    webhooks: dict[int, list[Webhook]] = defaultdict(list)
    for webhook in await session.scalars(
        select(Webhook)
        .where(Webhook.account_id.in_(account_ids), Webhook.is_active)
        .order_by(Webhook.id)
    ):
        webhooks[webhook.account_id].append(webhook)
    return webhooks


async def _deliveries(
    session: AsyncSession,
    events: Sequence[OutboxEvent],
    webhooks: dict[int, list[Webhook]],
    *,
    stream: bool,
) -> list[Delivery]:
    accounts = {
        account.id: account
        for account in await session.scalars(select(Account).where(Account.id.in_(set(webhooks))))
    }
    deliveries: list[Delivery] = []
    for event in events:
        for webhook in webhooks.get(event.account_id, ()):
            render = BODIES.get(webhook.dialect)
            try:
                body = render(event, webhook, accounts[event.account_id]) if render else None
            except Exception as exc:  # whatever a dialect's renderer trips on, it is this event's
                raise Unrenderable(event.id) from exc
            if body is not None:
                deliveries.append(
                    _delivery(event, Channel.WEBHOOK, delivery_text(body), webhook_id=webhook.id)
                )
        if stream:
            body = EventRead.of(event).model_dump(mode="json")
            deliveries.append(_delivery(event, Channel.STREAM, delivery_text(body)))
    return deliveries


def _delivery(
    event: OutboxEvent, channel: Channel, body: str, *, webhook_id: int | None = None
) -> Delivery:
    return Delivery(
        account_id=event.account_id,
        event_id=event.id,
        channel=channel,
        webhook_id=webhook_id,
        body=body,
    )
