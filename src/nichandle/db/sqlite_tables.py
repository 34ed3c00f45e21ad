"""SQLite's generalized ALTER TABLE, for migrations: what ALTER TABLE cannot change in place
(AUTOINCREMENT, a column's NOT NULL) is changed by rebuilding the table from its own stored
CREATE statement, so the statement keeps the form the migrations gave it (alembic's batch mode
would write a new one, which later revisions' rewrites no longer match)."""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op


def rebuild_table(table: str, rewrite: Callable[[str], str]) -> None:
    """Recreates ``table`` from its stored CREATE statement as ``rewrite`` changes it, with its
    rows, indexes and triggers (SQLite's generalized ALTER TABLE procedure). Table and column
    names come from the schema itself, never from input."""
    bind = op.get_bind()
    create = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": table},
    ).scalar_one()
    # Indexes of UNIQUE constraints have no SQL: they come back with the table.
    dependents = list(
        bind.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE tbl_name = :name "
                "AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
            ),
            {"name": table},
        ).scalars()
    )
    # Generated columns (hidden 2 and 3) are computed again, not copied.
    columns = ", ".join(
        f'"{row.name}"'
        for row in bind.execute(sa.text(f'PRAGMA table_xinfo("{table}")'))
        if row.hidden == 0
    )
    new = f"_new_{table}"
    new_create, count = re.subn(
        rf"^CREATE TABLE \"?{table}\"? \(", f'CREATE TABLE "{new}" (', rewrite(create)
    )
    assert count == 1, create  # noqa: S101 - a statement the migrations wrote
    op.execute(new_create)
    op.execute(f'INSERT INTO "{new}" ({columns}) SELECT {columns} FROM "{table}"')  # noqa: S608
    op.execute(f'DROP TABLE "{table}"')
    op.execute(f'ALTER TABLE "{new}" RENAME TO "{table}"')
    for statement in dependents:
        op.execute(statement)
