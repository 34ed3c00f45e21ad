"""`nichandle outbox`: what the deliveries are doing, and reviving failed ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.db.base import utcnow
from nichandle.errors import Conflict, NotFound
from nichandle.events.models import IDENTITY_ONLY, Delivery, DeliveryState, OutboxEvent


async def list_deliveries(
    session: AsyncSession, *, failed_only: bool, limit: int
) -> Sequence[dict[str, Any]]:
    """The newest deliveries (failed ones only, with ``failed_only``), newest first."""
    query = (
        select(Delivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .options(IDENTITY_ONLY)
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    if failed_only:
        query = query.where(Delivery.state == DeliveryState.FAILED)
    return [
        {
            "id": delivery.id,
            "account_id": delivery.account_id,
            "event": event.uuid,
            "type": event.type,
            "channel": delivery.channel.value,
            "webhook_id": delivery.webhook_id,
            "state": delivery.state.value,
            "attempts": delivery.attempts,
            "next_attempt_at": _iso(delivery.next_attempt_at),
            "last_attempt_at": _iso(delivery.last_attempt_at),
            "last_status": delivery.last_status,
            "last_error": delivery.last_error,
        }
        for delivery, event in await session.execute(query)
    ]


async def retry(session: AsyncSession, delivery_id: int | None) -> int:
    """Puts a failed delivery (or, with None, every failed one) back to pending, due now, with
    a new retry window; how many. A delivery with no body (its event could not be rendered)
    has nothing to send and stays failed."""
    query = update(Delivery).where(Delivery.state == DeliveryState.FAILED, Delivery.body != "")
    if delivery_id is not None:
        found = (
            await session.execute(
                select(Delivery.state, Delivery.body == "").where(Delivery.id == delivery_id)
            )
        ).one_or_none()
        if found is None:
            raise NotFound(f"no delivery {delivery_id}", code="delivery_not_found")
        state, bodiless = found
        if state is not DeliveryState.FAILED:
            raise Conflict(
                f"delivery {delivery_id} is {state.value}; only failed ones are retried",
                code="delivery_not_failed",
            )
        if bodiless:
            raise Conflict(
                f"delivery {delivery_id} has no body (its event could not be rendered)",
                code="delivery_unrenderable",
            )
        query = query.where(Delivery.id == delivery_id)
    result = await session.execute(
        query.values(
            state=DeliveryState.PENDING,
            next_attempt_at=utcnow(),
            attempts=0,
            first_attempt_at=None,
            lease_until=None,
        ).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None
