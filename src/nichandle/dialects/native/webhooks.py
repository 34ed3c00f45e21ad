"""The native webhooks API, /api/v1/webhooks: where the team's events are sent, signed
(Standard Webhooks), each body the native event of the feed. Each dialect's API sees the
webhooks made through it only (their bodies and event names are that dialect's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict

from nichandle.accounts.models import Account
from nichandle.dialects.deps import ReadSession, SettingsDep, WriteSession
from nichandle.dialects.native.events import EventRead, catalogue_names, native_name
from nichandle.dialects.native.routes import ERRORS, TOO_LARGE, ActorDep
from nichandle.dialects.native.schemas import ErrorRead, Links, PageMeta, page_links
from nichandle.events.models import DeliveryState, OutboxEvent
from nichandle.paging import page_request
from nichandle.webhooks import service as webhooks
from nichandle.webhooks.models import Webhook, WebhookDialect
from nichandle.webhooks.service import DeliveryRecord, WebhookChanges

DIALECT = WebhookDialect.NATIVE
DELIVERIES_PER_PAGE = 50


class _Input(BaseModel):
    # Unknown fields are an error, never silently dropped; types are not coerced.
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class WebhookCreate(_Input):
    url: str
    # Native event names, as the feed shows them (contact.changed); empty: every event.
    events: list[str] = []
    is_active: bool = True


class WebhookUpdate(_Input):
    """Partial: only the fields sent change."""

    url: str | None = None
    events: list[str] | None = None
    is_active: bool | None = None


class WebhookRead(BaseModel):
    id: int
    url: str
    events: list[str]
    is_active: bool
    created_at: datetime
    updated_at: datetime
    # Since the first of the failed deliveries in a row; after 3 days the webhook is switched
    # off (deactivated_at, is_active false) until it is turned back on.
    failing_since: datetime | None
    deactivated_at: datetime | None

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookRead:
        return cls(
            id=webhook.id,
            url=webhook.url,
            events=[native_name(name) for name in webhook.events],
            is_active=webhook.is_active,
            created_at=webhook.created_at,
            updated_at=webhook.updated_at,
            failing_since=webhook.failing_since,
            deactivated_at=webhook.deactivated_at,
        )


class WebhookCreated(WebhookRead):
    # Standard Webhooks signing secret ("whsec_..."): shown here, once, never again.
    secret: str


class WebhookEnvelope(BaseModel):
    data: WebhookRead


class WebhookCreatedEnvelope(BaseModel):
    data: WebhookCreated


class WebhookList(BaseModel):
    data: list[WebhookRead]


class DeliveryEvent(BaseModel):
    id: str  # the event's UUID, the delivery's webhook-id header
    type: str


class DeliveryRead(BaseModel):
    id: int
    event: DeliveryEvent
    state: DeliveryState
    attempts: int
    last_status: int | None  # the receiver's last HTTP status
    last_error: str | None
    next_attempt_at: datetime | None  # while pending
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, record: DeliveryRecord) -> DeliveryRead:
        delivery, event = record.delivery, record.event
        return cls(
            id=delivery.id,
            event=DeliveryEvent(id=event.uuid, type=native_name(event.type)),
            state=delivery.state,
            attempts=delivery.attempts,
            last_status=delivery.last_status,
            last_error=delivery.last_error,
            next_attempt_at=(
                delivery.next_attempt_at if delivery.state == DeliveryState.PENDING else None
            ),
            first_attempt_at=delivery.first_attempt_at,
            last_attempt_at=delivery.last_attempt_at,
            delivered_at=delivery.delivered_at,
            created_at=delivery.created_at,
        )


class DeliveryEnvelope(BaseModel):
    data: DeliveryRead


class DeliveryPage(BaseModel):
    data: list[DeliveryRead]
    links: Links
    meta: PageMeta


def unfiltered_body(event: OutboxEvent, webhook: Webhook, account: Account) -> dict[str, Any]:
    """A test is sent whatever the webhook's events filter: the native event, unfiltered."""
    return EventRead.of(event).model_dump(mode="json")


_ID = {"webhook_id": "$response.body#/data/id"}
WEBHOOK_LINKS: dict[str, Any] = {
    "links": {
        name: {"operationId": operation, "parameters": _ID}
        for name, operation in (
            ("GetWebhook", "getWebhook"),
            ("UpdateWebhook", "updateWebhook"),
            ("DeleteWebhook", "deleteWebhook"),
            ("WebhookDeliveries", "listWebhookDeliveries"),
            ("TestWebhook", "testWebhook"),
        )
    }
}
DELETED_MEANWHILE: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorRead, "description": "The webhook was deleted at the same time; retry"}
}

router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["webhooks"])


@router.post(
    "/webhooks",
    response_model=WebhookCreatedEnvelope,
    status_code=status.HTTP_201_CREATED,
    operation_id="createWebhook",
    responses={201: WEBHOOK_LINKS, **TOO_LARGE},
)
async def create_webhook(
    body: WebhookCreate, session: WriteSession, actor: ActorDep, settings: SettingsDep
) -> WebhookCreatedEnvelope:
    """Register a webhook; the answer shows its signing secret, once."""
    webhook = await webhooks.create_webhook(
        session,
        actor,
        DIALECT,
        body.url,
        events=catalogue_names(body.events, field="events"),
        is_active=body.is_active,
        allow_private=settings.webhooks_allow_private,
    )
    read = WebhookRead.of(webhook)
    return WebhookCreatedEnvelope(data=WebhookCreated(**dict(read), secret=webhook.secret))


@router.get("/webhooks", response_model=WebhookList, operation_id="listWebhooks")
async def list_webhooks(session: ReadSession, actor: ActorDep) -> WebhookList:
    """The team's webhooks made through this API, by id."""
    found = await webhooks.list_webhooks(session, actor.account_id, DIALECT)
    return WebhookList(data=[WebhookRead.of(w) for w in found])


@router.get(
    "/webhooks/{webhook_id}",
    response_model=WebhookEnvelope,
    operation_id="getWebhook",
    responses={200: WEBHOOK_LINKS},
)
async def get_webhook(webhook_id: int, session: ReadSession, actor: ActorDep) -> WebhookEnvelope:
    """Retrieve a webhook (its secret is never shown again)."""
    webhook = await webhooks.get_webhook(session, actor.account_id, DIALECT, webhook_id)
    return WebhookEnvelope(data=WebhookRead.of(webhook))


@router.patch(
    "/webhooks/{webhook_id}",
    response_model=WebhookEnvelope,
    operation_id="updateWebhook",
    responses=TOO_LARGE,
)
async def update_webhook(
    webhook_id: int,
    body: WebhookUpdate,
    session: WriteSession,
    actor: ActorDep,
    settings: SettingsDep,
) -> WebhookEnvelope:
    """Change the URL, the events or is_active; turning it on again clears its failures."""
    changes = WebhookChanges(
        url=body.url,
        events=None if body.events is None else catalogue_names(body.events, field="events"),
        is_active=body.is_active,
    )
    webhook = await webhooks.update_webhook(
        session, actor, DIALECT, webhook_id, changes, allow_private=settings.webhooks_allow_private
    )
    return WebhookEnvelope(data=WebhookRead.of(webhook))


@router.delete(
    "/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteWebhook"
)
async def delete_webhook(webhook_id: int, session: WriteSession, actor: ActorDep) -> Response:
    """Delete a webhook; deliveries not yet made are dropped."""
    await webhooks.delete_webhook(session, actor, DIALECT, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    operation_id="listWebhookDeliveries",
)
async def list_deliveries(
    webhook_id: int,
    request: Request,
    session: ReadSession,
    actor: ActorDep,
    settings: SettingsDep,
    page: int = 1,
    per_page: int = DELIVERIES_PER_PAGE,
) -> DeliveryPage:
    """A webhook's deliveries, newest first: attempts, last status, state, next attempt."""
    result = await webhooks.list_deliveries(
        session, actor.account_id, DIALECT, webhook_id, page_request(page, per_page)
    )
    links, meta = page_links(request.url, result, settings.public_url)
    return DeliveryPage(data=[DeliveryRead.of(r) for r in result.items], links=links, meta=meta)


@router.post(
    "/webhooks/{webhook_id}/test",
    response_model=DeliveryEnvelope,
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="testWebhook",
    responses=DELETED_MEANWHILE,
)
async def send_test(webhook_id: int, session: WriteSession, actor: ActorDep) -> DeliveryEnvelope:
    """Queue a webhook.test event for this webhook alone; its delivery shows under deliveries."""
    record = await webhooks.queue_test(session, actor, DIALECT, webhook_id, unfiltered_body)
    return DeliveryEnvelope(data=DeliveryRead.of(record))
