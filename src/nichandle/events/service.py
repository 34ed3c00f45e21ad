"""Writing events to the outbox, in the caller's transaction: the only way an event is made."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.db.base import utcnow
from nichandle.db.rows import insert_rows
from nichandle.events.catalogue import EventType, P
from nichandle.events.models import OutboxEvent


def emit(session: AsyncSession, actor: Actor, event: EventType[P], payload: P) -> OutboxEvent:
    """Queues an event; it exists exactly when the change that caused it commits."""
    row = OutboxEvent(**_common(actor, event, utcnow()), **_about(event, payload))
    session.add(row)
    return row


async def emit_many(
    session: AsyncSession, actor: Actor, event: EventType[P], payloads: Sequence[P]
) -> None:
    """Queues one event per payload in a single multi-row insert (a contact can fan out to
    thousands of domains)."""
    if not payloads:
        return
    common = _common(actor, event, utcnow())
    await insert_rows(
        session,
        cast(Table, OutboxEvent.__table__),
        [{**common, **_about(event, payload)} for payload in payloads],
    )


def _common(actor: Actor, event: EventType[P], now: datetime) -> dict[str, Any]:
    """What the events of one emit share (made once: a fan-out writes thousands)."""
    return {
        "account_id": actor.account_id,
        "type": event.name,
        "actor_token_id": actor.token_id,
        "actor_dialect": actor.dialect,
        "request_id": actor.request_id,
        "occurred_at": now,
    }


def _about(event: EventType[P], payload: P) -> dict[str, Any]:
    resource = event.resource(payload)
    return {
        "resource_type": resource.type,
        "resource_id": resource.id,
        "resource_parent": resource.parent,
        "payload": payload,
    }
