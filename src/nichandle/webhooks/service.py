"""The rules of customers' webhooks, whatever the dialect they were made through.

Concurrency: every write is one transaction. A change or removal locks its webhook row
(``FOR UPDATE``, read as it is now), so concurrent PATCHes apply one after another and a webhook
is deleted once (the others get 404). Where a dialect allows one subscription per event and URL
(name.com's "already subscribed"), the check and the insert run under the account row's
``FOR NO KEY UPDATE`` lock, taken before the webhook's (the order of docs/decisions.md): of
concurrent identical subscriptions exactly one is made, the others are a Conflict. URLs are
checked (their host resolved) before any lock is taken. SQLite's single writer serialises all of
this already.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts import repository as accounts_repository
from nichandle.accounts.models import Account
from nichandle.accounts.service import Actor
from nichandle.db.base import parse_id, utcnow
from nichandle.errors import Conflict, NotFound
from nichandle.events import catalogue
from nichandle.events.models import Channel, Delivery, OutboxEvent
from nichandle.events.service import emit
from nichandle.paging import Page, PageRequest
from nichandle.webhooks import repository
from nichandle.webhooks.models import Webhook, WebhookDialect
from nichandle.webhooks.targets import check_target

# Standard Webhooks: "whsec_" + base64 of a 24 to 64 byte key.
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32

# A dialect's body for an event sent to a webhook (dialects/*/webhooks.py).
Render = Callable[[OutboxEvent, Webhook, Account], dict[str, Any]]


@dataclass(frozen=True)
class WebhookChanges:
    """What a change sets; None leaves a field as it is."""

    url: str | None = None
    events: Sequence[str] | None = None
    is_active: bool | None = None


@dataclass(frozen=True)
class DeliveryRecord:
    delivery: Delivery
    event: OutboxEvent


def webhook_not_found(webhook_id: int | str) -> NotFound:
    return NotFound(f"Webhook `{webhook_id}` not found", code="webhook_not_found")


def already_subscribed() -> Conflict:
    return Conflict(
        "You are attempting to subscribe to an event you have already subscribed to.",
        code="webhook_already_subscribed",
    )


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def delivery_text(body: dict[str, Any]) -> str:
    """The text a delivery sends on every attempt."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


async def create_webhook(
    session: AsyncSession,
    actor: Actor,
    dialect: WebhookDialect,
    url: str,
    *,
    events: Sequence[str] = (),
    is_active: bool = True,
    allow_private: bool,
    once_per_url: bool = False,
) -> Webhook:
    """Registers a webhook with a new signing secret. ``events``: catalogue names (native) or the
    dialect's own; empty takes every event. ``once_per_url``: a second webhook of the dialect
    with the same URL and events is a Conflict."""
    await check_target(url, allow_private=allow_private)
    wanted = list(dict.fromkeys(events))
    if once_per_url:
        await accounts_repository.lock_account(session, actor.account_id)
        await _refuse_duplicate(session, actor.account_id, dialect, url, wanted)
    now = utcnow()
    webhook = Webhook(
        account_id=actor.account_id,
        dialect=dialect,
        url=url,
        events=wanted,
        is_active=is_active,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    session.add(webhook)
    await session.flush()
    return webhook


async def list_webhooks(
    session: AsyncSession, account_id: int, dialect: WebhookDialect, *, descending: bool = False
) -> list[Webhook]:
    """The account's webhooks made through ``dialect``, by id."""
    return await repository.webhooks_of(session, account_id, dialect, descending=descending)


async def get_webhook(
    session: AsyncSession,
    account_id: int,
    dialect: WebhookDialect,
    webhook_id: int | str,
    *,
    lock: bool = False,
) -> Webhook:
    """A webhook of the account made through ``dialect``; an id that names none (or another
    account's, or another dialect's) is NotFound."""
    number = parse_id(webhook_id)
    found = (
        await repository.webhook_by_id(session, account_id, dialect, number, lock=lock)
        if number is not None
        else None
    )
    if found is None:
        raise webhook_not_found(webhook_id)
    return found


async def update_webhook(
    session: AsyncSession,
    actor: Actor,
    dialect: WebhookDialect,
    webhook_id: int | str,
    changes: WebhookChanges,
    *,
    allow_private: bool,
    once_per_url: bool = False,
) -> Webhook:
    """Changes the URL, events or activity; turning a webhook back on clears its failure
    record (deactivated_at, failing_since), so it gets the whole grace period again."""
    if changes.url is not None:
        await check_target(changes.url, allow_private=allow_private)
    if once_per_url:
        await accounts_repository.lock_account(session, actor.account_id)
    webhook = await get_webhook(session, actor.account_id, dialect, webhook_id, lock=True)
    if changes.url is not None:
        webhook.url = changes.url
    if changes.events is not None:
        webhook.events = list(dict.fromkeys(changes.events))
    if changes.is_active is not None:
        if changes.is_active and not webhook.is_active:
            webhook.deactivated_at = None
            webhook.failing_since = None
        webhook.is_active = changes.is_active
    if once_per_url:
        await _refuse_duplicate(
            session, actor.account_id, webhook.dialect, webhook.url, webhook.events, webhook.id
        )
    webhook.updated_at = utcnow()
    await session.flush()
    return webhook


async def delete_webhook(
    session: AsyncSession, actor: Actor, dialect: WebhookDialect, webhook_id: int | str
) -> None:
    """Removes a webhook; its deliveries not yet made go with it."""
    webhook = await get_webhook(session, actor.account_id, dialect, webhook_id, lock=True)
    await session.delete(webhook)
    await session.flush()


async def list_deliveries(
    session: AsyncSession,
    account_id: int,
    dialect: WebhookDialect,
    webhook_id: int | str,
    page: PageRequest,
) -> Page[DeliveryRecord]:
    """A webhook's deliveries, newest first, each with its event."""
    webhook = await get_webhook(session, account_id, dialect, webhook_id)
    rows, total = await repository.deliveries_of(session, account_id, webhook.id, page)
    return Page([DeliveryRecord(d, e) for d, e in rows], total, page)


async def queue_test(
    session: AsyncSession,
    actor: Actor,
    dialect: WebhookDialect,
    webhook_id: int | str,
    render: Render,
) -> DeliveryRecord:
    """A webhook.test event for this webhook alone (dispatch passes it by: no other webhook or
    stream gets it), with one delivery to this webhook, whatever its events filter."""
    webhook = await get_webhook(session, actor.account_id, dialect, webhook_id)
    account = await repository.account_by_id(session, actor.account_id)
    assert account is not None  # noqa: S101 - the actor authenticated for it
    event = emit(
        session,
        actor,
        catalogue.WEBHOOK_TEST,
        catalogue.WebhookTest(webhook_id=webhook.id, url=webhook.url),
    )
    await session.flush()
    delivery = Delivery(
        account_id=actor.account_id,
        event_id=event.id,
        channel=Channel.WEBHOOK,
        webhook_id=webhook.id,
        body=delivery_text(render(event, webhook, account)),
        next_attempt_at=utcnow(),
    )
    session.add(delivery)
    await session.flush()
    return DeliveryRecord(delivery, event)


async def _refuse_duplicate(
    session: AsyncSession,
    account_id: int,
    dialect: WebhookDialect,
    url: str,
    events: Sequence[str],
    webhook_id: int | None = None,
) -> None:
    for other in await repository.same_subscriptions(session, account_id, dialect, url):
        if other.id != webhook_id and sorted(other.events) == sorted(events):
            raise already_subscribed()
