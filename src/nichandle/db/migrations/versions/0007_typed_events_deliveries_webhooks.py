"""typed events (uuid, resource, actor, request id, commit order), deliveries, webhooks

``outbox_event`` gains what the event catalogue gives every event (nichandle/events/catalogue.py):
a UUID (the idempotency key of every delivery), the resource it is about, the actor, the request
id, and on PostgreSQL the id of the transaction that wrote it (``txid``: the feed's order, see
nichandle/events/feed.py). ``name`` becomes ``type``, ``created_at`` ``occurred_at``,
``delivered_at`` ``dispatched_at`` (the worker now hands each event to its destinations,
``outbox_delivery``, instead of delivering it itself).

Events written before this revision were never delivered to anyone, and no webhook existed to
want them: they are marked dispatched, so an upgrade does not replay the whole history into a
newly configured Redis stream. They stay in the feed, with actor ``{"kind": "unknown"}``.

Columns are added in place (ALTER TABLE on both databases): rebuilding ``outbox_event`` on SQLite
would need 0006's care for AUTOINCREMENT for no gain.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import nichandle.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC = nichandle.db.base.UTCDateTime(timezone=True)

# Backfill of the resource of earlier events, by their payloads as 0001..0006 wrote them.
RESOURCE_ID = {
    "postgresql": """CASE resource_type
        WHEN 'contact' THEN payload->'contact'->>'handle'
        WHEN 'domain' THEN payload->>'domain'
        ELSE payload->>'certificate_id' END""",
    "sqlite": """CASE resource_type
        WHEN 'contact' THEN json_extract(payload, '$.contact.handle')
        WHEN 'domain' THEN json_extract(payload, '$.domain')
        ELSE CAST(json_extract(payload, '$.certificate_id') AS TEXT) END""",
}
RESOURCE_PARENT = {
    "postgresql": "payload->'contact'->>'parent_handle'",
    "sqlite": "json_extract(payload, '$.contact.parent_handle')",
}
RESOURCE_TYPE = {
    "postgresql": "split_part(type, '.', 1)",
    "sqlite": "substr(type, 1, instr(type, '.') - 1)",
}
NEW_UUID = {
    "postgresql": "gen_random_uuid()::text",
    "sqlite": """lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'
        || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1)
        || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))""",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_outbox_event_pending", table_name="outbox_event")
    op.drop_index("ix_outbox_event_account_id_id", table_name="outbox_event")
    op.alter_column("outbox_event", "name", new_column_name="type")
    op.alter_column("outbox_event", "created_at", new_column_name="occurred_at")
    op.alter_column("outbox_event", "delivered_at", new_column_name="dispatched_at")
    for name, type_ in (
        ("uuid", sa.String(36)),
        ("resource_type", sa.String(32)),
        ("resource_id", sa.String(255)),
    ):
        op.add_column(
            "outbox_event", sa.Column(name, type_, nullable=False, server_default=sa.text("''"))
        )
    op.add_column("outbox_event", sa.Column("resource_parent", sa.String(255), nullable=True))
    op.add_column(
        "outbox_event",
        sa.Column("actor", JSON, nullable=False, server_default=sa.text('\'{"kind": "unknown"}\'')),
    )
    op.add_column("outbox_event", sa.Column("request_id", sa.String(64), nullable=True))
    op.add_column("outbox_event", sa.Column("lease_until", UTC, nullable=True))
    op.add_column(
        "outbox_event",
        sa.Column("txid", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    op.execute(
        f"UPDATE outbox_event SET uuid = {NEW_UUID[dialect]}, "  # noqa: S608 - constants
        f"resource_type = {RESOURCE_TYPE[dialect]}, "
        f"dispatched_at = coalesce(dispatched_at, occurred_at)"
    )
    op.execute(
        f"UPDATE outbox_event SET resource_id = coalesce({RESOURCE_ID[dialect]}, ''), "  # noqa: S608
        f"resource_parent = CASE resource_type WHEN 'contact' THEN {RESOURCE_PARENT[dialect]} END"
    )
    if dialect == "postgresql":
        # Rows written from now on carry their transaction's id (earlier ones all committed),
        # and rows sent through COPY get their UUID here.
        op.execute(
            "ALTER TABLE outbox_event ALTER COLUMN txid "
            "SET DEFAULT (pg_current_xact_id()::text::bigint), "
            "ALTER COLUMN uuid SET DEFAULT (gen_random_uuid()::text)"
        )
    op.create_index(
        "ix_outbox_event_pending",
        "outbox_event",
        ["id"],
        sqlite_where=sa.text("dispatched_at IS NULL"),
        postgresql_where=sa.text("dispatched_at IS NULL"),
    )
    op.create_index(
        "ix_outbox_event_account_id_txid_id", "outbox_event", ["account_id", "txid", "id"]
    )

    op.create_table(
        "webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column(
            "dialect",
            sa.Enum(
                "native",
                "dnsimple",
                "namecom",
                name="dialect",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("failing_since", UTC, nullable=True),
        sa.Column("deactivated_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name="fk_webhook_account_id_account",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhook_account_id_id", "webhook", ["account_id", "id"])

    op.create_table(
        "outbox_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "webhook",
                "stream",
                name="channel",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("webhook_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "delivered",
                "failed",
                name="state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("lease_until", UTC, nullable=True),
        sa.Column("first_attempt_at", UTC, nullable=True),
        sa.Column("last_attempt_at", UTC, nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("delivered_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name="fk_outbox_delivery_account_id_account",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox_event.id"],
            name="fk_outbox_delivery_event_id_outbox_event",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhook.id"],
            name="fk_outbox_delivery_webhook_id_webhook",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_delivery"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_outbox_delivery_due",
        "outbox_delivery",
        ["next_attempt_at"],
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index("ix_outbox_delivery_webhook_id_id", "outbox_delivery", ["webhook_id", "id"])
    op.create_index(
        "ix_outbox_delivery_account_id_state", "outbox_delivery", ["account_id", "state"]
    )
    op.create_index("ix_outbox_delivery_event_id", "outbox_delivery", ["event_id"])


def downgrade() -> None:
    op.drop_table("outbox_delivery")
    op.drop_table("webhook")
    for index in (
        "ix_outbox_event_account_id_txid_id",
        "ix_outbox_event_pending",
    ):
        op.drop_index(index, table_name="outbox_event")
    for column in (
        "txid",
        "lease_until",
        "request_id",
        "actor",
        "resource_parent",
        "resource_id",
        "resource_type",
        "uuid",
    ):
        op.drop_column("outbox_event", column)
    op.alter_column("outbox_event", "type", new_column_name="name")
    op.alter_column("outbox_event", "occurred_at", new_column_name="created_at")
    op.alter_column("outbox_event", "dispatched_at", new_column_name="delivered_at")
    op.create_index("ix_outbox_event_account_id_id", "outbox_event", ["account_id", "id"])
    op.create_index(
        "ix_outbox_event_pending",
        "outbox_event",
        ["id"],
        sqlite_where=sa.text("delivered_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
