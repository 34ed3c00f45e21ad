"""Delivering: claim due deliveries under a lease, send outside any transaction, record.

A claim is a lease (``lease_until``) committed before anything is sent, so a slow receiver
never holds a transaction open, and a worker that dies mid-send leaves rows that any worker may
take once the lease ends: a delivery is sent at least once, and twice only when a worker died
(or outlived its lease) after sending. A result is recorded only while the claim is still the
worker's own (same ``attempts`` and ``lease_until`` as claimed); a claim taken over after its
lease ended is recorded by its new holder alone.

Failed attempts are retried with exponential backoff and jitter (``next_wait``) until an attempt
fails at least ``RETRY_WINDOW`` after the first one; the delivery is then ``failed`` (revived by
``nichandle outbox retry``). A webhook that keeps failing for ``FAILING_GRACE`` is deactivated,
and says so with a webhook.deactivated event.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.db.base import utcnow
from nichandle.events import catalogue
from nichandle.events.models import (
    IDENTITY_ONLY,
    Channel,
    Delivery,
    DeliveryState,
    OutboxEvent,
)
from nichandle.events.service import emit
from nichandle.webhooks.models import Webhook

FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=4)
JITTER = 0.25  # each wait is its nominal length times a random factor in [0.75, 1.25]
RETRY_WINDOW = timedelta(hours=24)
FAILING_GRACE = timedelta(days=3)
INACTIVE = "webhook is inactive"


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds until ``lease_until``: what to send, and where."""

    delivery_id: int
    attempts: int  # including this one
    lease_until: datetime
    first_attempt_at: datetime
    channel: Channel
    body: str
    account_id: int
    event_uuid: str
    event_type: str
    webhook: Webhook | None


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: ``error`` is None when the destination took it."""

    error: str | None = None
    status: int | None = None  # the receiver's HTTP status, when it answered
    sent: bool = True  # False: never sent (no time left in the lease); not an attempt


# Given back to the pool as it was, due at once: not an attempt, so no wait and no failure.
NOT_SENT = Outcome("not sent: the claim was running out", sent=False)


def next_wait(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failed attempt a delivery is tried again: 30 s,
    doubling to at most 4 h, each +-25% so receivers that failed together are not retried in
    step."""
    nominal = min(FIRST_WAIT * (1 << min(attempts - 1, 20)), LONGEST_WAIT)
    return nominal * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - spreading, not secrecy


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Delivery.state == DeliveryState.PENDING,
        Delivery.next_attempt_at <= now,
        or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now),
    ]


async def has_due(session: AsyncSession) -> bool:
    """A read first, so an idle worker never takes SQLite's write lock (partial index)."""
    found = await session.scalar(select(Delivery.id).where(*_due(utcnow())).limit(1))
    return found is not None


async def claim(session: AsyncSession, *, limit: int, lease: timedelta) -> list[Claim]:
    """Leases up to ``limit`` due deliveries, oldest due first. Those of a webhook switched off
    meanwhile are failed here instead, unsent."""
    now = utcnow()
    lease_until = now + lease
    due = (
        select(Delivery.id)
        .where(*_due(now))
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = (
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(due.scalar_subquery()), *_due(now))
            .values(
                lease_until=lease_until,
                attempts=Delivery.attempts + 1,
                first_attempt_at=func.coalesce(Delivery.first_attempt_at, now),
                last_attempt_at=now,
            )
            .returning(
                Delivery.id,
                Delivery.attempts,
                Delivery.first_attempt_at,
                Delivery.channel,
                Delivery.body,
                Delivery.account_id,
                Delivery.event_id,
                Delivery.webhook_id,
            )
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not rows:
        return []
    events = {
        event.id: event
        for event in await session.scalars(
            select(OutboxEvent)
            .options(IDENTITY_ONLY)
            .where(OutboxEvent.id.in_({row.event_id for row in rows}))
        )
    }
    webhook_ids = {row.webhook_id for row in rows if row.webhook_id is not None}
    webhooks = {
        webhook.id: webhook
        for webhook in await session.scalars(select(Webhook).where(Webhook.id.in_(webhook_ids)))
    }
    claims: list[Claim] = []
    for row in sorted(rows, key=lambda row: row.id):
        webhook = webhooks.get(row.webhook_id) if row.webhook_id is not None else None
        claimed = Claim(
            delivery_id=row.id,
            attempts=row.attempts,
            lease_until=lease_until,
            first_attempt_at=row.first_attempt_at,
            channel=row.channel,
            body=row.body,
            account_id=row.account_id,
            event_uuid=events[row.event_id].uuid,
            event_type=events[row.event_id].type,
            webhook=webhook,
        )
        if webhook is not None and not webhook.is_active:
            await _finish(session, [claimed], DeliveryState.FAILED, Outcome(INACTIVE), now)
        else:
            claims.append(claimed)
    return claims


async def record(session: AsyncSession, results: Sequence[tuple[Claim, Outcome]]) -> int:
    """Records attempts whose claims are still ours (how many), and what they say of each
    webhook's health: one success clears it, failures alone count against it."""
    now = utcnow()
    recorded: set[int] = set()
    # Alike results in one statement (a round's deliveries mostly are); a retry has a wait of
    # its own.
    alike: dict[tuple[DeliveryState, Outcome, datetime], list[Claim]] = defaultdict(list)
    for claim, outcome in results:
        if not outcome.sent:
            await _give_back(session, claim)
            continue
        if outcome.error is None:
            state = DeliveryState.DELIVERED
        elif now - claim.first_attempt_at >= RETRY_WINDOW:
            state = DeliveryState.FAILED
        else:
            recorded |= await _finish(session, [claim], DeliveryState.PENDING, outcome, now)
            continue
        alike[state, outcome, claim.lease_until].append(claim)
    for (state, outcome, _lease), claims in alike.items():
        recorded |= await _finish(session, claims, state, outcome, now)
    up: dict[int, bool] = {}  # webhook id -> whether one of its deliveries got through
    for claim, outcome in results:
        if claim.webhook is not None and claim.delivery_id in recorded:
            up[claim.webhook.id] = up.get(claim.webhook.id, False) or outcome.error is None
    # In id order: two workers recording for the same webhooks lock them alike (no deadlock).
    for webhook_id in sorted(up):
        await _webhook_health(session, webhook_id, delivered=up[webhook_id], now=now)
    return len(recorded)


async def _finish(
    session: AsyncSession,
    claims: Sequence[Claim],
    state: DeliveryState,
    outcome: Outcome,
    now: datetime,
) -> set[int]:
    """Ends the attempt of ``claims`` (one lease) in ``state``; the ids still ours."""
    values: dict[str, object] = {
        "state": state,
        "lease_until": None,
        "last_status": outcome.status,
        "last_error": outcome.error[:500] if outcome.error else None,
    }
    if state is DeliveryState.DELIVERED:
        values["delivered_at"] = now
    elif state is DeliveryState.PENDING:
        (claim,) = claims
        values["next_attempt_at"] = now + next_wait(claim.attempts)
    claimed = [(claim.delivery_id, claim.attempts) for claim in claims]
    ours = await session.scalars(
        update(Delivery)
        .where(
            tuple_(Delivery.id, Delivery.attempts).in_(claimed),
            Delivery.state == DeliveryState.PENDING,
            Delivery.lease_until == claims[0].lease_until,
        )
        .values(**values)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return set(ours)


async def _give_back(session: AsyncSession, claim: Claim) -> None:
    await session.execute(
        update(Delivery)
        .where(
            Delivery.id == claim.delivery_id,
            Delivery.attempts == claim.attempts,
            Delivery.lease_until == claim.lease_until,
            Delivery.state == DeliveryState.PENDING,
        )
        .values(lease_until=None, attempts=Delivery.attempts - 1)
        .execution_options(synchronize_session=False)
    )


async def _webhook_health(
    session: AsyncSession, webhook_id: int, *, delivered: bool, now: datetime
) -> None:
    """A success clears ``failing_since``; a failure sets it, and past the grace period
    switches the webhook off (once, whichever worker gets there first)."""
    if delivered:
        await session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id, Webhook.failing_since.is_not(None))
            .values(failing_since=None)
            .execution_options(synchronize_session=False)
        )
        return
    await session.execute(
        update(Webhook)
        .where(Webhook.id == webhook_id, Webhook.failing_since.is_(None))
        .values(failing_since=now)
        .execution_options(synchronize_session=False)
    )
    switched_off = (
        await session.execute(
            update(Webhook)
            .where(
                Webhook.id == webhook_id,
                Webhook.is_active,
                Webhook.failing_since <= now - FAILING_GRACE,
            )
            .values(is_active=False, deactivated_at=now, updated_at=now)
            .returning(Webhook.account_id, Webhook.url, Webhook.failing_since)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if switched_off is None:
        return
    await _fail_pending(session, webhook_id)
    emit(
        session,
        Actor(switched_off.account_id, None, "system"),
        catalogue.WEBHOOK_DEACTIVATED,
        catalogue.WebhookDeactivated(
            webhook_id=webhook_id,
            url=switched_off.url,
            failing_since=catalogue.timestamp(switched_off.failing_since),
        ),
    )


async def _fail_pending(session: AsyncSession, webhook_id: int) -> None:
    """A deactivated webhook's waiting deliveries fail now, claimed ones too (their holders'
    results then no longer count), rather than one by one at their next turn."""
    await session.execute(
        update(Delivery)
        .where(Delivery.webhook_id == webhook_id, Delivery.state == DeliveryState.PENDING)
        .values(state=DeliveryState.FAILED, last_error=INACTIVE, lease_until=None)
        .execution_options(synchronize_session=False)
    )
