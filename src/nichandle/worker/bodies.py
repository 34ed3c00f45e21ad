"""Each webhook dialect's body for an event: ``delivery_body(event, webhook, account)``, a dict,
or None when that webhook does not take the event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nichandle.accounts.models import Account
from nichandle.dialects.dnsimple import webhooks as dnsimple
from nichandle.dialects.namecom import webhooks as namecom
from nichandle.dialects.native import events as native
from nichandle.events.models import OutboxEvent
from nichandle.webhooks.models import Webhook, WebhookDialect

DeliveryBody = Callable[[OutboxEvent, Webhook, Account], dict[str, Any] | None]

BODIES: dict[WebhookDialect, DeliveryBody] = {
    WebhookDialect.NATIVE: native.delivery_body,
    WebhookDialect.DNSIMPLE: dnsimple.delivery_body,
    WebhookDialect.NAMECOM: namecom.delivery_body,
}
