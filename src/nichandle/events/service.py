"""Writing events to the outbox, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.events.models import OutboxEvent


def emit(session: AsyncSession, account_id: int, name: str, payload: dict[str, Any]) -> None:
    """Queues an event; it exists exactly when the change that caused it commits."""
    session.add(OutboxEvent(account_id=account_id, name=name, payload=payload))
