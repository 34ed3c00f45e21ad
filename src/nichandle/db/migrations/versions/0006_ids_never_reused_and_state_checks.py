"""ids never reused (AUTOINCREMENT on SQLite); domain status and certificate state CHECKs

SQLite without AUTOINCREMENT gives a new row max(id) + 1, so the id of the newest deleted row
comes back: a DNSimple client retrying ``DELETE /v2/1/contacts/82`` deleted the contact created
after it with id 82, and history and outbox rows of the two read as one. AUTOINCREMENT keeps the
largest id ever handed out (``sqlite_sequence``). SQLite cannot add it to a table in place, so
each table is rebuilt the way https://sqlite.org/lang_altertable.html#otheralter says (foreign
keys are off for the migration, see nichandle.db.migrate): create the new table from the stored
CREATE statement with the primary key rewritten, copy the rows, drop the old table, rename,
then recreate its indexes and triggers from their stored SQL, unchanged (``contact`` has the
contact_count triggers of 0003 and the FTS5 contact_search triggers of 0005). Each sequence
starts above the largest id the table or the history has seen, so an id deleted just before
the upgrade is not handed out either. PostgreSQL's sequences never reuse an id: no change.

Domain status and certificate state get named CHECK constraints of their enums (DomainStatus
in nichandle/domains/models.py, CertificateState in nichandle/certificates/models.py, as of this
revision): in the table rebuild on SQLite, ALTER TABLE ADD CONSTRAINT on PostgreSQL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial

import sqlalchemy as sa
from alembic import op

from nichandle.db.sqlite_tables import rebuild_table

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each table with its own integer id, and where else its ids were written (history, outbox):
# the sequence starts above those too.
ID_TABLES: dict[str, tuple[str, ...]] = {
    "account": (),
    "app_user": (),
    "api_token": (
        "SELECT max(actor_token_id) FROM contact_version",
        "SELECT max(actor_token_id) FROM domain_role_change",
    ),
    "contact": ("SELECT max(contact_id) FROM contact_version",),
    "contact_version": (),
    "domain": (
        "SELECT max(domain_id) FROM domain_role_change",
        "SELECT max(CAST(json_extract(payload, '$.domain_id') AS INTEGER)) FROM outbox_event",
    ),
    "domain_role_change": (),
    "certificate": (
        "SELECT max(CAST(json_extract(payload, '$.certificate_id') AS INTEGER)) FROM outbox_event",
    ),
    "outbox_event": (),
}

# As in the models when this revision was written (a migration is a snapshot).
CHECKS: dict[str, tuple[str, str]] = {
    "domain": ("ck_domain_status", "status IN ('registered', 'suspended', 'expired')"),
    "certificate": (
        "ck_certificate_state",
        "state IN ('requesting', 'issued', 'expired', 'revoked')",
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, (name, condition) in CHECKS.items():
            op.create_check_constraint(op.f(name), table, sa.text(condition))
        return
    for table, references in ID_TABLES.items():
        rebuild_table(table, partial(_with_autoincrement, table=table, check=CHECKS.get(table)))
        _start_sequence_above(table, references)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, (name, _condition) in CHECKS.items():
            op.drop_constraint(op.f(name), table, type_="check")
        return
    for table in ID_TABLES:
        rebuild_table(table, partial(_without_autoincrement, table=table, check=CHECKS.get(table)))


def _primary_key(table: str) -> str:
    return rf",?\s*CONSTRAINT pk_{table} PRIMARY KEY \(id\)"


def _with_autoincrement(create: str, *, table: str, check: tuple[str, str] | None) -> str:
    """The table-level primary key becomes the id column's, with AUTOINCREMENT (SQLite only
    allows it there); the CHECK, if any, is added."""
    create, dropped = re.subn(_primary_key(table), "", create)
    create, moved = re.subn(
        r"(\n\s*)id INTEGER NOT NULL,",
        rf"\1id INTEGER NOT NULL CONSTRAINT pk_{table} PRIMARY KEY AUTOINCREMENT,",
        create,
        count=1,
    )
    assert dropped == moved == 1, create  # noqa: S101 - the statement 0001-0005 wrote
    if check is not None:
        name, condition = check
        create = _before_last_parenthesis(create, f", \n\tCONSTRAINT {name} CHECK ({condition})")
    return create


def _without_autoincrement(create: str, *, table: str, check: tuple[str, str] | None) -> str:
    """The inverse of _with_autoincrement: the statement 0001-0005 left."""
    create, moved = re.subn(
        rf"id INTEGER NOT NULL CONSTRAINT pk_{table} PRIMARY KEY AUTOINCREMENT,",
        "id INTEGER NOT NULL,",
        create,
    )
    assert moved == 1, create  # noqa: S101 - the statement upgrade() wrote
    if check is not None:
        name, _condition = check
        create, removed = re.subn(rf",\s*CONSTRAINT {name} CHECK \(.*\)(?=\s*\)$)", "", create)
        assert removed == 1, create  # noqa: S101 - the statement upgrade() wrote
    return _before_last_parenthesis(create, f", \n\tCONSTRAINT pk_{table} PRIMARY KEY (id)")


def _before_last_parenthesis(create: str, addition: str) -> str:
    head, _, tail = create.rstrip().rpartition(")")
    return head.rstrip() + addition + "\n)" + tail


def _start_sequence_above(table: str, references: tuple[str, ...]) -> None:
    """sqlite_sequence already holds the largest id copied; raise it to the largest id the
    history or the outbox names (rows deleted before the upgrade)."""
    bind = op.get_bind()
    largest = bind.execute(sa.text(f'SELECT coalesce(max(id), 0) FROM "{table}"')).scalar_one()  # noqa: S608
    for query in references:
        largest = max(largest, bind.execute(sa.text(query)).scalar() or 0)
    if largest:
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :name"), {"name": table})
        bind.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:name, :seq)"),
            {"name": table, "seq": largest},
        )
