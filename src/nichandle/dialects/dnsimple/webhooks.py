"""DNSimple's webhooks API (/v2/{account}/webhooks) and its webhook bodies.

A DNSimple webhook takes every event DNSimple has a name for (its API has no filter); the body
is ``{"data", "name", "actor", "account", "api_version", "request_identifier"}`` as the
fixtures under shared/reference/dnsimple/fixtures/webhooks show it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict

from nichandle.accounts.models import Account
from nichandle.dialects.deps import ReadSession, SettingsDep, WriteSession
from nichandle.dialects.dnsimple.routes import ActorDep
from nichandle.dialects.dnsimple.schemas import ContactRead, WireTime, domain_state, wire_time
from nichandle.domains.models import DomainStatus
from nichandle.domains.names import to_unicode
from nichandle.errors import FieldErrors
from nichandle.events import catalogue
from nichandle.events.models import OutboxEvent
from nichandle.webhooks import service as webhooks
from nichandle.webhooks.models import Webhook, WebhookDialect

DIALECT = WebhookDialect.DNSIMPLE
SORTS = {"id:asc": False, "id:desc": True}

# Catalogue name -> DNSimple's; a lock change is named by its direction (lock_name).
NAMES = {
    catalogue.CONTACT_CREATED.name: "contact.create",
    catalogue.CONTACT_UPDATED.name: "contact.update",
    catalogue.CONTACT_DELETED.name: "contact.delete",
    catalogue.DOMAIN_CREATED.name: "domain.create",
    catalogue.DOMAIN_DELETED.name: "domain.delete",
}
LOCK_NAMES = {"added": "domain.transfer_lock_enable", "removed": "domain.transfer_lock_disable"}
LOCK_EVENTS = {
    catalogue.DOMAIN_LOCK_CHANGED.name,
    catalogue.DOMAIN_TRANSFER_LOCK_ADDED.name,
    catalogue.DOMAIN_TRANSFER_LOCK_REMOVED.name,
}
# A change of registrant: started, applied (DNSimple's completed), cancelled; DNSimple has no
# name for a confirmation or an expiry (an expired one reads cancelled in its API).
REGISTRANT_CHANGE_NAMES = {
    catalogue.DOMAIN_REGISTRANT_CHANGE_STARTED.name: "domain.registrant_change:started",
    catalogue.DOMAIN_REGISTRANT_CHANGE_APPLIED.name: "domain.registrant_change",
    catalogue.DOMAIN_REGISTRANT_CHANGE_CANCELLED.name: "domain.registrant_change:cancelled",
}


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    url: str


class WebhookRead(BaseModel):
    id: int
    url: str
    # DNSimple's name for a webhook switched off after failing for the grace period.
    suppressed_at: WireTime | None

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookRead:
        return cls(id=webhook.id, url=webhook.url, suppressed_at=webhook.deactivated_at)


class WebhookEnvelope(BaseModel):
    data: WebhookRead


class WebhookList(BaseModel):
    data: list[WebhookRead]


def dnsimple_name(event: OutboxEvent) -> str | None:
    if event.type in LOCK_EVENTS:
        return LOCK_NAMES[event.payload["action"]]
    return NAMES.get(event.type) or REGISTRANT_CHANGE_NAMES.get(event.type)


def delivery_body(event: OutboxEvent, webhook: Webhook, account: Account) -> dict[str, Any] | None:
    """DNSimple's body for an event; None for events DNSimple has no name for."""
    name = dnsimple_name(event)
    if name is None:
        return None
    return {
        "data": _data(event, name, account),
        "name": name,
        "actor": _actor(event, account),
        "account": {"id": account.id, "display": account.name, "identifier": account.slug},
        "api_version": "v2",
        # DNSimple's request id: every event of one request shares it; the webhook-id header
        # (the event's UUID) is the one that is unique per event.
        "request_identifier": event.request_id or event.uuid,
    }


def _data(event: OutboxEvent, name: str, account: Account) -> dict[str, Any]:
    payload = event.payload
    if "contact" in payload:
        return {"contact": _contact(payload["contact"], name, event.occurred_at, account)}
    domain = payload["domain"]
    data = {"id": payload["domain_id"], "account_id": account.id, "name": domain}
    data["unicode_name"] = to_unicode(domain)
    if "status" in payload:  # events since the payload carries the settings
        expires_at = datetime.fromisoformat(payload["expires_at"])
        data |= {
            # The registrant is in domain.contacts_changed, not in a settings event.
            "registrant_id": None,
            "state": domain_state(DomainStatus(payload["status"])),
            "auto_renew": payload["autorenew"],
            "private_whois": payload["privacy"],
            "expires_on": expires_at.date().isoformat(),
            "expires_at": wire_time(expires_at),
            "created_at": wire_time(datetime.fromisoformat(payload["created_at"])),
            "updated_at": wire_time(datetime.fromisoformat(payload["updated_at"])),
        }
    if "registrant" in payload:  # a change of registrant: the domain and its new registrant
        data["registrant_id"] = payload["registrant_id"]
        registrant = _contact(payload["registrant"], name, event.occurred_at, account)
        # Its fixtures call the contact's email email_address here (contact.* say email).
        renamed = {("email_address" if k == "email" else k): v for k, v in registrant.items()}
        return {"domain": data, "registrant": renamed}
    return {"domain": data}


def _contact(
    contact: dict[str, Any], name: str, occurred_at: datetime, account: Account
) -> dict[str, Any]:
    # The event's copy of a contact has no timestamps: the event's time is the contact's
    # creation (contact.create) and last change (create, update); otherwise unknown, null.
    created = occurred_at if name == "contact.create" else None
    updated = occurred_at if name != "contact.delete" else None
    read = ContactRead.of_fields(
        contact, id=contact["id"], account_id=account.id, created_at=created, updated_at=updated
    )
    return read.model_dump(mode="json")


def _actor(event: OutboxEvent, account: Account) -> dict[str, str]:
    """A token acts for its account (DNSimple's "account" actor); nichandle itself (the worker,
    the CLI) is "system"."""
    if event.actor.get("kind") == "token":
        return {"id": str(account.id), "entity": "account", "pretty": account.name}
    return {"id": "system", "entity": "system", "pretty": "nichandle"}


router = APIRouter(prefix="/v2", tags=["dnsimple"])


@router.get("/{account}/webhooks", response_model=WebhookList)
async def list_webhooks(
    session: ReadSession, actor: ActorDep, sort: str | None = None
) -> WebhookList:
    """List the account's webhooks (sort: id:asc, the default, or id:desc)."""
    if sort is not None and sort not in SORTS:
        raise FieldErrors.single("sort", "invalid", f"must be one of {', '.join(SORTS)}")
    found = await webhooks.list_webhooks(
        session, actor.account_id, DIALECT, descending=SORTS.get(sort or "id:asc", False)
    )
    return WebhookList(data=[WebhookRead.of(w) for w in found])


@router.post(
    "/{account}/webhooks", response_model=WebhookEnvelope, status_code=status.HTTP_201_CREATED
)
async def create_webhook(
    body: WebhookCreate, session: WriteSession, actor: ActorDep, settings: SettingsDep
) -> WebhookEnvelope:
    """Register a webhook endpoint; it receives every event DNSimple has a name for."""
    webhook = await webhooks.create_webhook(
        session, actor, DIALECT, body.url, allow_private=settings.webhooks_allow_private
    )
    return WebhookEnvelope(data=WebhookRead.of(webhook))


@router.get("/{account}/webhooks/{webhook}", response_model=WebhookEnvelope)
async def get_webhook(webhook: str, session: ReadSession, actor: ActorDep) -> WebhookEnvelope:
    """Retrieve a webhook by id."""
    found = await webhooks.get_webhook(session, actor.account_id, DIALECT, webhook)
    return WebhookEnvelope(data=WebhookRead.of(found))


@router.delete("/{account}/webhooks/{webhook}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(webhook: str, session: WriteSession, actor: ActorDep) -> Response:
    """De-register a webhook endpoint."""
    await webhooks.delete_webhook(session, actor, DIALECT, webhook)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
