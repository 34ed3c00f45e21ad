"""Dispatching: an event becomes one delivery per destination that wants it.

Events are taken in commit order after the stored position (``events/order.py``); inserting
their deliveries and moving the position are one transaction, so an event is dispatched exactly
once: a worker killed halfway leaves the position where it was, for the next. Workers take turns
on the position row: PostgreSQL workers with ``FOR UPDATE SKIP LOCKED`` (one dispatches, the
others go on delivering), SQLite's by its one write lock (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.models import Account
from nichandle.db.base import utcnow
from nichandle.dialects.native.events import EventRead
from nichandle.events.catalogue import CATALOGUE
from nichandle.events.models import (
    DISPATCH,
    Channel,
    Delivery,
    DeliveryState,
    DispatchPosition,
    OutboxEvent,
)
from nichandle.events.order import Position, after, committed, position_of
from nichandle.webhooks.models import Webhook
from nichandle.webhooks.service import delivery_text
from nichandle.worker.bodies import BODIES

logger = logging.getLogger("nichandle.worker")

# Events whose deliveries are made by whoever emits them.
PASSED_BY = frozenset(name for name, event in CATALOGUE.items() if not event.dispatched)

# Kept as a delivery's error when its body could not be rendered; such a delivery is failed at
# once and cannot be retried (there is nothing to send).
UNRENDERABLE = "no body could be rendered for this event"


async def has_undispatched(session: AsyncSession) -> bool:
    """A read first, so an idle worker never takes SQLite's write lock."""
    visible = await committed(session)
    stored = await session.get(DispatchPosition, DISPATCH)
    if stored is None:
        raise RuntimeError("no dispatch position: run `nichandle db upgrade`")
    found = await session.scalar(
        select(OutboxEvent.id).where(after(_position(stored)), *visible).limit(1)
    )
    return found is not None


async def dispatch(session: AsyncSession, *, limit: int, stream: bool) -> int:
    """Dispatches the events after the position in commit order: up to ``limit`` that somebody
    receives, and every event nobody receives up to the last of those (or, with fewer, up to
    the newest visible event). ``stream``: every event also gets a delivery to the Redis Stream.
    Returns how many events got deliveries, at least 1 when the position moved (0: nothing to
    do, or another worker holds the position)."""
    visible = await committed(session)  # its own statement, before the events are read
    stored = await session.scalar(
        select(DispatchPosition)
        .where(DispatchPosition.name == DISPATCH)
        .with_for_update(skip_locked=True)
    )
    if stored is None:
        return 0  # another worker is dispatching: it holds the row
    start = _position(stored)
    webhooks = await _active_webhooks(session)
    wanted = select(OutboxEvent).where(
        after(start), *visible, OutboxEvent.type.not_in(sorted(PASSED_BY))
    )
    if not stream:
        # Events of accounts without a webhook are passed by unread: one registrant's edit
        # makes 10,000 events, and most accounts have no webhook.
        wanted = wanted.where(OutboxEvent.account_id.in_(webhooks))
    events = list(
        await session.scalars(wanted.order_by(OutboxEvent.txid, OutboxEvent.id).limit(limit))
    )
    end = position_of(events[-1]) if len(events) == limit else await _newest(session, visible)
    if end is None or end <= start:
        return 0
    if events:
        session.add_all(await _deliveries(session, events, webhooks, stream=stream))
    stored.txid, stored.event_id, stored.updated_at = end.txid, end.id, utcnow()
    return max(len(events), 1)


async def _newest(session: AsyncSession, visible: list[ColumnElement[bool]]) -> Position | None:
    found = (
        await session.execute(
            select(OutboxEvent.txid, OutboxEvent.id)
            .where(*visible)
            .order_by(OutboxEvent.txid.desc(), OutboxEvent.id.desc())
            .limit(1)
        )
    ).first()
    return Position(found.txid, found.id) if found is not None else None


def _position(stored: DispatchPosition) -> Position:
    return Position(stored.txid, stored.event_id)


async def _active_webhooks(session: AsyncSession) -> dict[int, list[Webhook]]:
    """Every active webhook, by account (a small table, read once a round). Key-share locked
    until the deliveries are in: a webhook deleted meanwhile would fail their insert (its
    foreign key) and the round; its DELETE waits for this transaction instead."""
    webhooks: dict[int, list[Webhook]] = defaultdict(list)
    for webhook in await session.scalars(
        select(Webhook)
        .where(Webhook.is_active)
        .order_by(Webhook.id)
        .with_for_update(read=True, key_share=True)
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
            except Exception:  # whatever a renderer trips on, it is this event's: the rest go on
                logger.exception("event %s: no %s body", event.id, webhook.dialect)
                deliveries.append(_unrenderable(event, webhook))
                continue
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


def _unrenderable(event: OutboxEvent, webhook: Webhook) -> Delivery:
    """Failed at once and on show (``outbox list --failed``, the webhook's deliveries): the
    position must move on, and a bug in one renderer must not hold every event behind it."""
    delivery = _delivery(event, Channel.WEBHOOK, "", webhook_id=webhook.id)
    delivery.state, delivery.last_error = DeliveryState.FAILED, UNRENDERABLE
    return delivery
