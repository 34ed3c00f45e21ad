"""The native event feed, /api/v1/events, and the native shape of an event (the feed's items and
the body of native webhooks): Domain Chief's event names where it has them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from nichandle.accounts.models import Account
from nichandle.dialects.deps import ReadSession
from nichandle.dialects.native.routes import ERRORS, ActorDep
from nichandle.domains import names
from nichandle.errors import FieldErrors
from nichandle.events import feed
from nichandle.events.catalogue import CATALOGUE
from nichandle.events.models import OutboxEvent
from nichandle.webhooks.models import Webhook

# Catalogue name -> the native one, where Domain Chief names it otherwise.
NATIVE_NAMES = {"contact.updated": "contact.changed"}
CATALOGUE_NAMES = {native: name for name, native in NATIVE_NAMES.items()}


def native_name(catalogue_name: str) -> str:
    return NATIVE_NAMES.get(catalogue_name, catalogue_name)


def catalogue_names(native: list[str], *, field: str) -> list[str]:
    """Native event names -> catalogue names; an unknown one is a FieldErrors naming ``field``."""
    found = [CATALOGUE_NAMES.get(name, name) for name in native]
    unknown = [name for name, known in zip(native, found, strict=True) if known not in CATALOGUE]
    if unknown:
        choices = ", ".join(sorted(native_name(name) for name in CATALOGUE))
        raise FieldErrors.single(
            field, "invalid", f"unknown event type {unknown[0]!r}; one of: {choices}"
        )
    return found


class ResourceRead(BaseModel):
    type: str
    id: str
    parent: str | None


class EventRead(BaseModel):
    id: str  # the event's UUID: the idempotency key of every delivery of it
    type: str
    resource: ResourceRead
    activity: str
    occurred_at: datetime
    data: dict[str, Any]
    # {"kind": "token", "id": 7, "dialect": "dnsimple"} or {"kind": "system", ...}
    actor: dict[str, Any]
    request_id: str | None

    @classmethod
    def of(cls, event: OutboxEvent) -> EventRead:
        name = native_name(event.type)
        return cls(
            id=event.uuid,
            type=name,
            resource=ResourceRead(
                type=event.resource_type, id=event.resource_id, parent=event.resource_parent
            ),
            activity=name.rpartition(".")[2],
            occurred_at=event.occurred_at,
            data=event.payload,
            actor=event.actor,
            request_id=event.request_id,
        )


def delivery_body(event: OutboxEvent, webhook: Webhook, account: Account) -> dict[str, Any] | None:
    """A native webhook's body for an event: the feed's item; None when the webhook's ``events``
    filter (catalogue names; empty: all) leaves it out."""
    if webhook.events and event.type not in webhook.events:
        return None
    return EventRead.of(event).model_dump(mode="json")


class FeedMeta(BaseModel):
    # Pass it back as ?cursor= to read on; null only when there are no events yet.
    cursor: str | None
    has_more: bool


class EventPage(BaseModel):
    data: list[EventRead]
    meta: FeedMeta


router = APIRouter(prefix="/api/v1", responses=ERRORS)


@router.get("/events", response_model=EventPage, tags=["events"], operation_id="listEvents")
async def list_events(
    session: ReadSession,
    actor: ActorDep,
    cursor: str | None = None,
    per_page: int = feed.DEFAULT_PER_PAGE,
    types: Annotated[list[str] | None, Query(alias="type[]")] = None,
    contact: str | None = None,
    domain: str | None = None,
) -> EventPage:
    """The team's events in the order they became visible, from ``cursor`` on. A client that
    stores ``meta.cursor`` and polls with it sees every event once."""
    if not 1 <= per_page <= feed.MAX_PER_PAGE:
        raise FieldErrors.single(
            "per_page", "invalid", f"must be between 1 and {feed.MAX_PER_PAGE}"
        )
    where = feed.EventFilter(
        types=catalogue_names(types or [], field="type[]"),
        contact=contact,
        domain=_domain(domain),
    )
    page = await feed.read_feed(
        session, actor.account_id, cursor=cursor, per_page=per_page, where=where
    )
    return EventPage(
        data=[EventRead.of(event) for event in page.events],
        meta=FeedMeta(cursor=page.cursor, has_more=page.has_more),
    )


def _domain(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return names.to_ascii(name)
    except names.InvalidName as invalid:
        raise FieldErrors.single("domain", "invalid", str(invalid)) from None
