"""contact search on SQLite: an FTS5 trigram index of search_text

SQLite's "contains" search scanned the account's entries in the (account_id, search_text)
B-tree: linear in the account (18 ms at 100k contacts, 363 ms at 1M). ``contact_search`` is an
FTS5 table with the trigram tokenizer over ``contact.search_text`` (external content: it holds
the index, not a copy of the text), so a needle of three characters or more reads only its
trigrams' entries: 100k contacts, 200 searches of a piece of an email or a handle, 18.4 ->
0.33 ms each. Triggers keep it in the transaction of every insert, delete and update of the
six searchable fields, whoever writes. Needles of one or two characters have no trigram and
keep the B-tree scan. PostgreSQL has its trigram GIN indexes (0003, 0004): nothing changes there.

Needs SQLite >= 3.34 built with FTS5 (Debian's, python.org's and Homebrew's builds are).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = [
    """
CREATE VIRTUAL TABLE contact_search USING fts5(
    search_text, content='contact', content_rowid='id', tokenize='trigram'
)
""",
    # An external-content index forgets a row by being told the text it indexed.
    """
CREATE TRIGGER contact_search_insert AFTER INSERT ON contact BEGIN
    INSERT INTO contact_search (rowid, search_text) VALUES (NEW.id, NEW.search_text);
END
""",
    """
CREATE TRIGGER contact_search_delete AFTER DELETE ON contact BEGIN
    INSERT INTO contact_search (contact_search, rowid, search_text)
    VALUES ('delete', OLD.id, OLD.search_text);
END
""",
    # The columns search_text is made of (SEARCH_TEXT_SQL in nichandle/contacts/models.py).
    """
CREATE TRIGGER contact_search_update AFTER UPDATE OF
    first_name, last_name, company_name, email_normalized, handle, address_city
ON contact BEGIN
    INSERT INTO contact_search (contact_search, rowid, search_text)
    VALUES ('delete', OLD.id, OLD.search_text);
    INSERT INTO contact_search (rowid, search_text) VALUES (NEW.id, NEW.search_text);
END
""",
    "INSERT INTO contact_search (contact_search) VALUES ('rebuild')",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS contact_search_{trigger}")
        op.execute("DROP TABLE IF EXISTS contact_search")
