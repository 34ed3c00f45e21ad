"""The transactional outbox: events written with the change, and their deliveries.

An event row is written in the transaction of its change and never changed after. The worker
*dispatches* events in commit order (``events/order.py``) from a stored position: one delivery
row per destination that wants an event (a webhook, the Redis stream), each then retried on its
own schedule, so one failing receiver never holds back another. An event nobody receives costs
its insert and one read: no per-event mark is written (a contact's edit fans out to thousands).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID as UUID_

from sqlalchemy import BigInteger, FetchedValue, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, load_only, mapped_column

from nichandle.db.base import NO_ID_REUSE, Base, JSONVariant, UTCDateTime, state_column, utcnow


class OutboxEvent(Base):
    __tablename__ = "outbox_event"
    __table_args__ = (
        Index("ix_outbox_event_txid_id", "txid", "id"),  # the dispatcher's order
        Index("ix_outbox_event_account_id_txid_id", "account_id", "txid", "id"),  # the feed's
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The UUID of an event written before 0008 (random, kept as published); NULL since, the
    # UUID then being derived from the row (``uuid``). PostgreSQL's own type (16 bytes).
    stored_uuid: Mapped[str | None] = mapped_column(
        "uuid", String(36).with_variant(UUID(as_uuid=False), "postgresql")
    )
    # No foreign key: checking it was 30 of the 70 ms PostgreSQL took to insert a fan-out's
    # 10,000 events, for an account the write path has just authenticated (docs/decisions.md).
    account_id: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))  # a catalogue name: contact.updated
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(255))
    resource_parent: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONVariant)
    # Who caused it (``actor``): a token through a dialect, or nichandle itself (no token).
    # Two narrow columns, not a JSON document per row (a fan-out repeats them thousands of times).
    actor_token_id: Mapped[int | None] = mapped_column(Integer)
    actor_dialect: Mapped[str | None] = mapped_column(String(16))  # None: before migration 0007
    request_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The writing transaction's id on PostgreSQL (0 on SQLite, whose writers take turns): the
    # feed's order, so an event committed after one with a larger id is never skipped
    # (events/order.py).
    txid: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue())

    @property
    def uuid(self) -> str:
        """The idempotency key every delivery carries (webhook-id, the stream entry's `id`)."""
        return self.stored_uuid or event_uuid(self.occurred_at, self.id)

    @property
    def actor(self) -> dict[str, Any]:
        """As the feed and the webhooks show it: ``{"kind": "token", "id", "dialect"}``,
        ``{"kind": "system", "dialect"}``, or ``{"kind": "unknown"}`` for events written
        before events recorded their actor."""
        if self.actor_token_id is not None:
            return {"kind": "token", "id": self.actor_token_id, "dialect": self.actor_dialect}
        if self.actor_dialect is not None:
            return {"kind": "system", "dialect": self.actor_dialect}
        return {"kind": "unknown"}


# For reading only what names an event (its uuid and type), not its payload.
IDENTITY_ONLY = load_only(
    OutboxEvent.stored_uuid, OutboxEvent.occurred_at, OutboxEvent.type, raiseload=True
)


def event_uuid(occurred_at: datetime, event_id: int) -> str:
    """An event's UUID, derived from its row: a UUIDv8 laid out as a UUIDv7 (RFC 9562), the
    time in milliseconds (48 bits), the microseconds within it (12), and the event id (62).

    Stable (the row never changes), unique within a database (ids are never reused) and, for
    events of two databases, as unlikely to collide as two events of the same id written in the
    same microsecond. Not random: a fan-out's 10,000 ``gen_random_uuid()`` calls cost its
    INSERT 12 ms of PostgreSQL's CPU (docs/decisions.md), and an idempotency key need not be
    secret."""
    micros = (occurred_at - EPOCH) // timedelta(microseconds=1)
    milliseconds, within = divmod(micros, 1000)
    return str(
        UUID_(
            int=(milliseconds & (2**48 - 1)) << 80
            | 0x8 << 76
            | within << 64
            | 0b10 << 62
            | event_id & (2**62 - 1)
        )
    )


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DispatchPosition(Base):
    """The one row saying how far dispatch has got: every event up to this (txid, id), in
    commit order, has its deliveries. Workers take turns on it (``FOR UPDATE SKIP LOCKED``)."""

    __tablename__ = "outbox_dispatch_position"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # always DISPATCH
    txid: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


DISPATCH = "dispatch"  # the name of the one DispatchPosition row


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # retried for the whole retry window; `nichandle outbox retry` revives


class Channel(StrEnum):
    WEBHOOK = "webhook"
    STREAM = "stream"  # Redis Streams, NICHANDLE_EVENTS_REDIS_URL


class Delivery(Base):
    """One event on its way to one destination."""

    __tablename__ = "outbox_delivery"
    __table_args__ = (
        Index(
            "ix_outbox_delivery_due",
            "next_attempt_at",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        Index("ix_outbox_delivery_webhook_id_id", "webhook_id", "id"),
        Index("ix_outbox_delivery_account_id_state", "account_id", "state"),
        Index("ix_outbox_delivery_event_id", "event_id"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_event.id", ondelete="CASCADE"))
    channel: Mapped[Channel] = mapped_column(state_column(Channel, "channel"))
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"))
    # The exact bytes sent on every attempt, rendered once at dispatch: a retry is the same
    # message, and its signature covers the same body.
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[DeliveryState] = mapped_column(
        state_column(DeliveryState, "state"), default=DeliveryState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
