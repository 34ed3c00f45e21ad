"""Every query over webhooks and their deliveries, always scoped by account."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.models import Account
from nichandle.events.models import Delivery, OutboxEvent
from nichandle.paging import PageRequest
from nichandle.webhooks.models import Webhook, WebhookDialect


async def webhooks_of(
    session: AsyncSession, account_id: int, dialect: WebhookDialect, *, descending: bool
) -> list[Webhook]:
    order = Webhook.id.desc() if descending else Webhook.id
    query = (
        select(Webhook)
        .where(Webhook.account_id == account_id, Webhook.dialect == dialect)
        .order_by(order)
    )
    return list(await session.scalars(query))


async def webhook_by_id(
    session: AsyncSession,
    account_id: int,
    dialect: WebhookDialect,
    webhook_id: int,
    *,
    lock: bool = False,
) -> Webhook | None:
    query = select(Webhook).where(
        Webhook.account_id == account_id, Webhook.dialect == dialect, Webhook.id == webhook_id
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    found: Webhook | None = await session.scalar(query)
    return found


async def same_subscriptions(
    session: AsyncSession, account_id: int, dialect: WebhookDialect, url: str
) -> Sequence[Webhook]:
    """The account's webhooks of ``dialect`` to ``url`` (their events are compared by the
    caller: JSON columns compare differently on the two databases)."""
    query = select(Webhook).where(
        Webhook.account_id == account_id, Webhook.dialect == dialect, Webhook.url == url
    )
    return list(await session.scalars(query))


async def account_by_id(session: AsyncSession, account_id: int) -> Account | None:
    return await session.get(Account, account_id)


async def deliveries_of(
    session: AsyncSession, account_id: int, webhook_id: int, page: PageRequest
) -> tuple[list[tuple[Delivery, OutboxEvent]], int]:
    """A page of a webhook's deliveries with their events, newest first, and the total."""
    where = (Delivery.account_id == account_id, Delivery.webhook_id == webhook_id)
    total = await session.scalar(select(func.count()).select_from(Delivery).where(*where))
    query = (
        select(Delivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .where(*where)
        .order_by(Delivery.id.desc())
        .offset(page.offset)
        .limit(page.per_page)
    )
    rows = [(delivery, event) for delivery, event in await session.execute(query)]
    return rows, total or 0
