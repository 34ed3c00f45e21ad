"""outbox dispatch position, and narrower event rows

Both for the write path: a registrant's edit fans out to thousands of events in its request.

The worker used to mark every event dispatched (an UPDATE of the whole row, payload included);
a contact's edit that fans out to 10,000 domains paid for 10,000 row rewrites right after its
own inserts. Now one row holds how far dispatch has got, in commit order (``txid, id``: see
nichandle/events/order.py), and an event row is never written again after its insert.

The position starts just before the first event 0007's marks left undispatched (in commit order),
else after the last event: nothing is lost. Events after that start which were already
dispatched go out once more (delivery is at-least-once; receivers key on the event UUID).

The actor becomes two narrow columns instead of a JSON document per row (``OutboxEvent.actor``
builds the document). New events store no UUID: it is derived from the row
(``events.models.event_uuid``); those written before keep theirs, as published, in a column now
nullable, of PostgreSQL's own 16-byte type there. A ``domain.contacts_changed`` row goes from
376 to 283 bytes (192 before 0007; bench/README.md).

Events lose their foreign key to the account: checking it was 30 of the 70 ms PostgreSQL spent
inserting a fan-out's 10,000 events (docs/decisions.md). The write path takes the account from
the token it has just authenticated, and nothing deletes accounts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:30:00.000000
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import nichandle.db.base
from nichandle.db.sqlite_tables import rebuild_table
from nichandle.events.models import event_uuid

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = nichandle.db.base.UTCDateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

# The uuid column on SQLite, as 0007 added it (ALTER TABLE keeps the clause's text) and from here.
UUID_0007 = "uuid VARCHAR(36) DEFAULT '' NOT NULL"
UUID_0008 = "uuid VARCHAR(36)"
# The events' foreign key to their account, dropped (see the module's docstring).
ACCOUNT_KEY = "fk_outbox_event_account_id_account"
ACCOUNT_KEY_SQLITE = (
    f"CONSTRAINT {ACCOUNT_KEY} FOREIGN KEY(account_id) REFERENCES account (id) ON DELETE CASCADE"
)

ACTOR_COLUMNS = {
    "postgresql": "actor_token_id = (actor->>'id')::integer, actor_dialect = actor->>'dialect'",
    "sqlite": "actor_token_id = json_extract(actor, '$.id'), "
    "actor_dialect = json_extract(actor, '$.dialect')",
}
ACTOR_DOCUMENT = {
    "postgresql": """CASE
        WHEN actor_token_id IS NOT NULL THEN jsonb_build_object(
            'kind', 'token', 'id', actor_token_id, 'dialect', actor_dialect)
        WHEN actor_dialect IS NOT NULL THEN jsonb_build_object(
            'kind', 'system', 'dialect', actor_dialect)
        ELSE '{"kind": "unknown"}'::jsonb END""",
    "sqlite": """CASE
        WHEN actor_token_id IS NOT NULL THEN json_object(
            'kind', 'token', 'id', actor_token_id, 'dialect', actor_dialect)
        WHEN actor_dialect IS NOT NULL THEN json_object('kind', 'system', 'dialect', actor_dialect)
        ELSE '{"kind": "unknown"}' END""",
}


def upgrade() -> None:
    op.create_table(
        "outbox_dispatch_position",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_outbox_dispatch_position")),
    )
    connection = op.get_bind()
    first_undispatched = connection.execute(
        sa.text(
            "SELECT txid, id FROM outbox_event WHERE dispatched_at IS NULL "
            "ORDER BY txid, id LIMIT 1"
        )
    ).first()
    if first_undispatched is not None:
        txid, event_id = first_undispatched[0], first_undispatched[1] - 1
    else:
        last = connection.execute(
            sa.text("SELECT txid, id FROM outbox_event ORDER BY txid DESC, id DESC LIMIT 1")
        ).first()
        txid, event_id = (last[0], last[1]) if last is not None else (0, 0)
    connection.execute(
        sa.text(
            "INSERT INTO outbox_dispatch_position (name, txid, event_id, updated_at) "
            "VALUES ('dispatch', :txid, :event_id, CURRENT_TIMESTAMP)"
        ),
        {"txid": txid, "event_id": event_id},
    )
    op.drop_index("ix_outbox_event_pending", table_name="outbox_event")
    op.drop_column("outbox_event", "dispatched_at")
    op.drop_column("outbox_event", "lease_until")
    op.create_index("ix_outbox_event_txid_id", "outbox_event", ["txid", "id"])

    dialect = connection.dialect.name
    op.add_column("outbox_event", sa.Column("actor_token_id", sa.Integer(), nullable=True))
    op.add_column("outbox_event", sa.Column("actor_dialect", sa.String(16), nullable=True))
    op.execute(f"UPDATE outbox_event SET {ACTOR_COLUMNS[dialect]}")  # noqa: S608 - constants
    op.drop_column("outbox_event", "actor")
    if dialect == "postgresql":
        op.execute(
            "ALTER TABLE outbox_event ALTER COLUMN uuid DROP DEFAULT, "
            "ALTER COLUMN uuid DROP NOT NULL, "
            "ALTER COLUMN uuid TYPE uuid USING uuid::uuid"
        )
        op.drop_constraint(ACCOUNT_KEY, "outbox_event", type_="foreignkey")
    else:
        rebuild_table("outbox_event", _upgraded)


def downgrade() -> None:
    connection = op.get_bind()
    dialect = connection.dialect.name
    # 0007 stores every UUID: the derived ones are written down, as they were published.
    derived = [
        {"id": row.id, "uuid": event_uuid(row.occurred_at, row.id)}
        for row in connection.execute(
            sa.text("SELECT id, occurred_at FROM outbox_event WHERE uuid IS NULL").columns(
                occurred_at=UTC
            )
        )
    ]
    if dialect == "postgresql":
        op.execute(
            "ALTER TABLE outbox_event ALTER COLUMN uuid TYPE varchar(36) USING uuid::text, "
            "ALTER COLUMN uuid SET DEFAULT (gen_random_uuid()::text)"
        )
    if derived:
        connection.execute(sa.text("UPDATE outbox_event SET uuid = :uuid WHERE id = :id"), derived)
    if dialect == "postgresql":
        op.execute("ALTER TABLE outbox_event ALTER COLUMN uuid SET NOT NULL")
        op.create_foreign_key(
            ACCOUNT_KEY, "outbox_event", "account", ["account_id"], ["id"], ondelete="CASCADE"
        )
    else:
        rebuild_table("outbox_event", _downgraded)

    op.add_column(
        "outbox_event",
        sa.Column("actor", JSON, nullable=False, server_default=sa.text('\'{"kind": "unknown"}\'')),
    )
    op.execute(f"UPDATE outbox_event SET actor = {ACTOR_DOCUMENT[dialect]}")  # noqa: S608
    op.drop_column("outbox_event", "actor_dialect")
    op.drop_column("outbox_event", "actor_token_id")
    op.drop_index("ix_outbox_event_txid_id", table_name="outbox_event")
    op.add_column("outbox_event", sa.Column("lease_until", UTC, nullable=True))
    op.add_column("outbox_event", sa.Column("dispatched_at", UTC, nullable=True))
    # Everything up to the position was dispatched; the rest stays pending.
    op.execute(
        "UPDATE outbox_event SET dispatched_at = CURRENT_TIMESTAMP "
        "WHERE EXISTS (SELECT 1 FROM outbox_dispatch_position AS p WHERE p.name = 'dispatch' AND "
        "(outbox_event.txid < p.txid OR "
        "(outbox_event.txid = p.txid AND outbox_event.id <= p.event_id)))"
    )
    op.create_index(
        "ix_outbox_event_pending",
        "outbox_event",
        ["id"],
        sqlite_where=sa.text("dispatched_at IS NULL"),
        postgresql_where=sa.text("dispatched_at IS NULL"),
    )
    op.drop_table("outbox_dispatch_position")


def _upgraded(create: str) -> str:
    """0007's CREATE statement of outbox_event on SQLite as 0008 makes it."""
    without_key, removed = re.subn(rf",\s*{re.escape(ACCOUNT_KEY_SQLITE)}", "", create)
    assert removed == 1, create  # noqa: S101 - the statement 0001-0007 wrote
    return _replaced(without_key, UUID_0007, UUID_0008)


def _downgraded(create: str) -> str:
    with_key = create[: create.rindex(")")].rstrip() + f", \n\t{ACCOUNT_KEY_SQLITE}\n)"
    return _replaced(with_key, UUID_0008, UUID_0007)


def _replaced(create: str, old: str, new: str) -> str:
    replaced = create.replace(old, new)
    assert replaced.count(new) == 1, create  # noqa: S101 - the statement the migrations wrote
    return replaced
