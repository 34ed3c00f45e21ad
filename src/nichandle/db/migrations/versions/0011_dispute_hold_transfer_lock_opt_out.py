"""change of registrant, first slice: a domain's dispute hold and transfer-lock opt-out

The dispute hold (set by staff) refuses every change of registrant of the domain; the opt-out
is the registrant's choice of no 60-day lock after one, kept with its time and who set it.
Plain add_column on SQLite too: batch mode would rebuild the table and lose AUTOINCREMENT.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nichandle.db.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "dispute_hold",
    "transfer_lock_opt_out",
    "transfer_lock_opt_out_at",
    "transfer_lock_opt_out_by",
)


def upgrade() -> None:
    op.add_column(
        "domain",
        sa.Column("dispute_hold", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "domain",
        sa.Column("transfer_lock_opt_out", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "domain",
        sa.Column(
            "transfer_lock_opt_out_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.add_column("domain", sa.Column("transfer_lock_opt_out_by", sa.String(64), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a plain column in place (no index or constraint names these).
    for column in reversed(COLUMNS):
        op.drop_column("domain", column)
