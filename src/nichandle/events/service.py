"""Writing events to the outbox, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.db.base import utcnow
from nichandle.db.rows import insert_rows
from nichandle.events.models import OutboxEvent


def emit(session: AsyncSession, account_id: int, name: str, payload: dict[str, Any]) -> None:
    """Queues an event; it exists exactly when the change that caused it commits."""
    session.add(OutboxEvent(account_id=account_id, name=name, payload=payload))


async def emit_many(
    session: AsyncSession, account_id: int, name: str, payloads: Sequence[dict[str, Any]]
) -> None:
    """Queues one event per payload in a single multi-row insert (a contact can fan out to
    thousands of domains)."""
    if not payloads:
        return
    now = utcnow()
    await insert_rows(
        session,
        cast(Table, OutboxEvent.__table__),
        [
            {"account_id": account_id, "name": name, "payload": payload, "created_at": now}
            for payload in payloads
        ],
    )
