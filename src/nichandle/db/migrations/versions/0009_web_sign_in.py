"""web UI sign-in: passwords (one-time ones too), web sessions, site secrets, who changed history

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nichandle.db.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = nichandle.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    # Plain ALTER TABLE on both databases (SQLite >= 3.35 drops columns too): a batch rebuild
    # would lose the AUTOINCREMENT that 0006 wrote into these tables' statements.
    op.add_column("app_user", sa.Column("password_hash", sa.String(length=255), nullable=True))
    op.add_column(
        "app_user",
        sa.Column(
            "password_change_required", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )
    for table in ("contact_version", "domain_role_change"):
        op.add_column(table, sa.Column("actor_user_id", sa.Integer(), nullable=True))
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name="fk_web_session_account_id_account",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name="fk_web_session_user_id_app_user",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_web_session"),
        sa.UniqueConstraint("token_hash", name="uq_web_session_token_hash"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_web_session_user_id", "web_session", ["user_id"])
    op.create_table(
        "site_secret",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_site_secret"),
    )


def downgrade() -> None:
    op.drop_table("site_secret")
    op.drop_index("ix_web_session_user_id", table_name="web_session")
    op.drop_table("web_session")
    for table in ("domain_role_change", "contact_version"):
        op.drop_column(table, "actor_user_id")
    op.drop_column("app_user", "password_change_required")
    op.drop_column("app_user", "password_hash")
