"""name.com's webhook notifications (/core/v1/notifications) and their bodies.

A subscription is one event name and one URL; subscribing twice to the same pair is name.com's
409. Of name.com's AvailableWebhooks nichandle produces ``domain.lock.status_change`` (a domain's
transfer lock added or removed); it keeps no account credit and runs no transfers, so
subscribing to ``account.credit.balance_change`` or ``domain.transfer.status_change`` is
refused with a 400 that says so, rather than accepted and never sent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from nichandle.accounts.models import Account
from nichandle.dialects.deps import ReadSession, SettingsDep, WriteSession
from nichandle.dialects.namecom.routes import ActorDep, json_body
from nichandle.dialects.namecom.schemas import timestamp
from nichandle.errors import FieldErrors
from nichandle.events import catalogue
from nichandle.events.models import OutboxEvent
from nichandle.webhooks import service as webhooks
from nichandle.webhooks.models import Webhook, WebhookDialect
from nichandle.webhooks.service import WebhookChanges

DIALECT = WebhookDialect.NAMECOM
LOCK_STATUS_CHANGE = "domain.lock.status_change"
# name.com's event name -> the catalogue event it is made from.
PRODUCED = {LOCK_STATUS_CHANGE: catalogue.DOMAIN_LOCK_CHANGED.name}
NOT_PRODUCED = {
    "account.credit.balance_change": "nichandle keeps no account credit",
    "domain.transfer.status_change": "nichandle runs no domain transfers",
}
# The catalogue's lock names -> name.com's lockType: the owner's own lock and the one after a
# change of registrant both hold transfers.
LOCK_TYPES = {"transfer": "TransferLock", "registrant_change": "TransferLock"}


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class SubscribeToNotification(_Input):
    eventName: str
    url: str
    active: bool


class ModifySubscription(_Input):
    url: str | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> ModifySubscription:
        if self.url is None and self.active is None:
            raise PydanticCustomError("url_or_active", "give url, active or both")
        return self


class SubscriptionRecord(BaseModel):
    id: int
    eventName: str
    url: str
    active: bool
    createDate: str
    updateDate: str | None

    @classmethod
    def of(cls, webhook: Webhook) -> SubscriptionRecord:
        return cls(
            id=webhook.id,
            eventName=webhook.events[0],
            url=webhook.url,
            active=webhook.is_active,
            createDate=timestamp(webhook.created_at),
            updateDate=timestamp(webhook.updated_at),
        )


class ListSubscribedWebhooksResponse(BaseModel):
    subscriptions: list[SubscriptionRecord]


class SubscriptionResponse(BaseModel):
    """SubscribeToNotificationResponse and ModifySubscriptionResponse."""

    subscription: SubscriptionRecord


def event_name(name: str) -> str:
    """A name.com event name nichandle sends, else FieldErrors naming eventName."""
    if name in PRODUCED:
        return name
    reason = NOT_PRODUCED.get(name)
    if reason is not None:
        problem = f"{name} is never sent by this server ({reason}); {LOCK_STATUS_CHANGE} is"
    else:
        problem = f"unknown event {name!r}; the one this server sends is {LOCK_STATUS_CHANGE}"
    raise FieldErrors.single("eventName", "invalid", problem)


# A registrant verification's suspension holds transfers (clientTransferProhibited) and its
# lifting releases them: name.com shows that as its domain's transfer lock changing, unless the
# owner's own lock held transfers all along.
SUSPENSION_ACTIONS = {
    catalogue.DOMAIN_SUSPENDED.name: "added",
    catalogue.DOMAIN_UNSUSPENDED.name: "removed",
}
# The 60-day lock after a change of registrant, likewise unless the owner's lock held all along.
CHANGE_OF_REGISTRANT_LOCKS = {
    catalogue.DOMAIN_TRANSFER_LOCK_ADDED.name,
    catalogue.DOMAIN_TRANSFER_LOCK_REMOVED.name,
}


def delivery_body(event: OutboxEvent, webhook: Webhook, account: Account) -> dict[str, Any] | None:
    """name.com's body for an event the subscription names; None for every other event."""
    if LOCK_STATUS_CHANGE not in webhook.events:
        return None
    payload = event.payload
    if event.type == catalogue.DOMAIN_LOCK_CHANGED.name:
        action, lock = payload["action"], LOCK_TYPES[payload["lock"]]
    elif event.type in SUSPENSION_ACTIONS and not payload["locked"]:
        action, lock = SUSPENSION_ACTIONS[event.type], LOCK_TYPES["transfer"]
    elif event.type in CHANGE_OF_REGISTRANT_LOCKS and not payload["locked"]:
        action, lock = payload["action"], LOCK_TYPES[payload["lock"]]
    else:
        return None
    return {
        "eventName": LOCK_STATUS_CHANGE,
        "domainName": payload["domain"],
        "action": action,
        "lockType": lock,
        "registryStatuses": payload["registry_statuses"],
    }


router = APIRouter(prefix="/core/v1", tags=["namecom"])


@router.get("/notifications", response_model=ListSubscribedWebhooksResponse)
async def list_subscriptions(
    session: ReadSession, actor: ActorDep
) -> ListSubscribedWebhooksResponse:
    """GetSubscribedNotifications: the account's subscriptions, active or not, by id."""
    found = await webhooks.list_webhooks(session, actor.account_id, DIALECT)
    return ListSubscribedWebhooksResponse(subscriptions=[SubscriptionRecord.of(w) for w in found])


@router.post(
    "/notifications", response_model=SubscriptionResponse, status_code=status.HTTP_201_CREATED
)
async def subscribe(
    session: WriteSession,
    actor: ActorDep,
    settings: SettingsDep,
    body: Annotated[SubscribeToNotification, Depends(json_body(SubscribeToNotification))],
) -> SubscriptionResponse:
    """SubscribeToNotification: one event name to one URL; the same pair twice is a 409."""
    webhook = await webhooks.create_webhook(
        session,
        actor,
        DIALECT,
        body.url,
        events=[event_name(body.eventName)],
        is_active=body.active,
        allow_private=settings.webhooks_allow_private,
        once_per_url=True,
    )
    return SubscriptionResponse(subscription=SubscriptionRecord.of(webhook))


@router.put("/notifications/{id}", response_model=SubscriptionResponse)
async def modify_subscription(
    id: str,
    session: WriteSession,
    actor: ActorDep,
    settings: SettingsDep,
    body: Annotated[ModifySubscription, Depends(json_body(ModifySubscription))],
) -> SubscriptionResponse:
    """ModifySubscription: the URL, whether it is active, or both."""
    webhook = await webhooks.update_webhook(
        session,
        actor,
        DIALECT,
        id,
        WebhookChanges(url=body.url, is_active=body.active),
        allow_private=settings.webhooks_allow_private,
        once_per_url=True,
    )
    return SubscriptionResponse(subscription=SubscriptionRecord.of(webhook))


@router.delete("/notifications/{id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_subscription(id: str, session: WriteSession, actor: ActorDep) -> Response:
    """DeleteSubscription."""
    await webhooks.delete_webhook(session, actor, DIALECT, id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
