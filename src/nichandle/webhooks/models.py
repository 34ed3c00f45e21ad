"""A webhook: a URL of the customer's that receives events, signed (Standard Webhooks)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from nichandle.db.base import NO_ID_REUSE, Base, JSONVariant, UTCDateTime, state_column, utcnow


class WebhookDialect(StrEnum):
    """The API a webhook was made through: its deliveries come in that dialect's shape."""

    NATIVE = "native"
    DNSIMPLE = "dnsimple"
    NAMECOM = "namecom"


class Webhook(Base):
    __tablename__ = "webhook"
    __table_args__ = (Index("ix_webhook_account_id_id", "account_id", "id"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    dialect: Mapped[WebhookDialect] = mapped_column(state_column(WebhookDialect, "dialect"))
    url: Mapped[str] = mapped_column(String(2048))
    # Catalogue names (native) or the dialect's own event names; empty: every event.
    events: Mapped[list[str]] = mapped_column(JSONVariant, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Standard Webhooks signing secret, "whsec_" + base64; shown once, on create.
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set by the first failed delivery after a success; a webhook failing for the grace period
    # (3 days) is deactivated (deactivated_at; DNSimple's suppressed_at).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
