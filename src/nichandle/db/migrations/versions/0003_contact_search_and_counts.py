"""contact search and counts

Indexes that fit the contact queries at any account size:

- ``contact.search_text``: the six searchable fields, lower-cased, one per line (a generated
  column, stored on PostgreSQL, virtual on SQLite), so ``query`` is one LIKE over one column.
  PostgreSQL indexes it with a trigram GIN index beside ``account_id`` (pg_trgm, btree_gin): a
  "contains" search reads only the posting lists of the needle's trigrams, within the account.
  SQLite has no trigram index without virtual tables; its B-tree on (account_id, search_text)
  makes the search a scan of the account's index entries instead of its rows.
- ``contact_count``: contacts per account (in 16 shards, so concurrent creates don't queue on
  one row), kept by triggers on ``contact`` in the same transaction as the insert or delete, so
  a page's total stays exact without counting a big account's rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# As in nichandle/contacts/models.py when this revision was written (a migration is a snapshot).
SEARCH_TEXT_SQL = (
    "lower(first_name || '\n' || last_name || '\n' || coalesce(company_name, '') || '\n' "
    "|| email_normalized || '\n' || handle || '\n' || address_city)"
)

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Shards: a contact counts in row id % 16 (COUNT_SHARDS in nichandle/contacts/models.py).
POSTGRESQL_TRIGGERS = [
    """
CREATE FUNCTION contact_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Ordered, so two transactions adding to the same shards lock them in the same order.
    INSERT INTO contact_count (account_id, shard, contacts)
    SELECT account_id, id % 16, count(*) FROM inserted_contacts
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (account_id, shard)
    DO UPDATE SET contacts = contact_count.contacts + EXCLUDED.contacts;
    RETURN NULL;
END $$;
""",
    """
CREATE FUNCTION contact_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    gone record;
BEGIN
    -- Only updates: when an account is deleted its shard rows may be gone already.
    FOR gone IN
        SELECT account_id, id % 16 AS shard, count(*) AS n FROM deleted_contacts
        GROUP BY 1, 2 ORDER BY 1, 2
    LOOP
        UPDATE contact_count SET contacts = contacts - gone.n
        WHERE account_id = gone.account_id AND shard = gone.shard;
    END LOOP;
    RETURN NULL;
END $$;
""",
    """
CREATE TRIGGER contact_count_insert AFTER INSERT ON contact
REFERENCING NEW TABLE AS inserted_contacts
FOR EACH STATEMENT EXECUTE FUNCTION contact_count_inserted();
""",
    """
CREATE TRIGGER contact_count_delete AFTER DELETE ON contact
REFERENCING OLD TABLE AS deleted_contacts
FOR EACH STATEMENT EXECUTE FUNCTION contact_count_deleted();
""",
]

SQLITE_TRIGGERS = [
    """
CREATE TRIGGER contact_count_insert AFTER INSERT ON contact BEGIN
    INSERT INTO contact_count (account_id, shard, contacts)
    VALUES (NEW.account_id, NEW.id % 16, 1)
    ON CONFLICT (account_id, shard) DO UPDATE SET contacts = contacts + 1;
END
""",
    """
CREATE TRIGGER contact_count_delete AFTER DELETE ON contact BEGIN
    UPDATE contact_count SET contacts = contacts - 1
    WHERE account_id = OLD.account_id AND shard = OLD.id % 16;
END
""",
]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        # Trusted extensions (PostgreSQL 13+): a database owner may create them.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    # Not in batch mode: SQLite adds a virtual generated column in place, and recreating the
    # table is what batch mode would do for anything else.
    op.add_column(
        "contact",
        sa.Column(
            "search_text",
            sa.Text(),
            # PostgreSQL before 18 only stores generated columns; SQLite only adds virtual ones.
            sa.Computed(SEARCH_TEXT_SQL, persisted=postgresql),
            nullable=True,
        ),
    )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_account_id_search_text",
            ["account_id", "search_text"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )

    if not postgresql:
        # SQLite renders a boolean test as `is_default = 1` and only uses a partial index whose
        # WHERE is written the same way: with `WHERE is_default` every default-contact lookup
        # scanned the account (22-40 ms per create at 100k contacts).
        _default_index("is_default = 1", replacing="is_default")

    op.create_table(
        "contact_count",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_contact_count_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "shard", name=op.f("pk_contact_count")),
    )
    op.execute(
        "INSERT INTO contact_count (account_id, shard, contacts) "
        "SELECT account_id, id % 16, count(*) FROM contact GROUP BY 1, 2"
    )
    for statement in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute(
        "DROP TRIGGER IF EXISTS contact_count_insert" + (" ON contact" if postgresql else "")
    )
    op.execute(
        "DROP TRIGGER IF EXISTS contact_count_delete" + (" ON contact" if postgresql else "")
    )
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS contact_count_inserted()")
        op.execute("DROP FUNCTION IF EXISTS contact_count_deleted()")
    op.drop_table("contact_count")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_contact_account_id_search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )
    if not postgresql:
        _default_index("is_default", replacing="is_default = 1")
    # SQLite 3.35+ drops the column in place: recreating the table (batch mode) would trip
    # over the rows that reference contacts.
    op.drop_column("contact", "search_text")
    # pg_trgm and btree_gin stay: other objects of the database may have come to use them.


def _default_index(where: str, *, replacing: str) -> None:
    """uq_contact_default (one default contact per account) on SQLite, with WHERE ``where``."""
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("uq_contact_default", sqlite_where=sa.text(replacing))
        batch_op.create_index(
            "uq_contact_default", ["account_id"], unique=True, sqlite_where=sa.text(where)
        )
