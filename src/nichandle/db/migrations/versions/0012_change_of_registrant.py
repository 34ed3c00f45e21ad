"""change of registrant: pending changes, their requests, links, mails, Designated Agents

One request per edit (its two parties, their confirmations, its expiry or, under cord-2026, its
notice's due time) and one change per domain, at most one pending per domain (a partial unique
index); links stored as SHA-256 only; mails as an outbox the worker sends; the registrants who
opted out of cord-2026's notices.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 05:43:48.002010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import nichandle.db.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "designated_agent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column(
            "parties",
            sa.Enum(
                "prior",
                "new",
                "both",
                name="parties",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("authorized_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_designated_agent_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_designated_agent")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_designated_agent_account_id", "designated_agent", ["account_id"], unique=False
    )

    op.create_table(
        "registrant_change_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column(
            "policy",
            sa.Enum(
                "cor-2024",
                "cord-2026",
                name="policy",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "applied",
                "expired",
                "cancelled",
                name="state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "fields",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("prior_email", sa.String(length=320), nullable=False),
        sa.Column("prior_name", sa.String(length=255), nullable=False),
        sa.Column("new_email", sa.String(length=320), nullable=False),
        sa.Column("new_name", sa.String(length=255), nullable=False),
        sa.Column(
            "prior_confirmed_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("prior_confirmed_by", sa.String(length=64), nullable=True),
        sa.Column("new_confirmed_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("new_confirmed_by", sa.String(length=64), nullable=True),
        sa.Column("designated_agent_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notify_due_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notified_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_registrant_change_request_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrant_change_request")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_registrant_change_request_expires_at",
        "registrant_change_request",
        ["expires_at"],
        unique=False,
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_registrant_change_request_notify_due_at",
        "registrant_change_request",
        ["notify_due_at"],
        unique=False,
        sqlite_where=sa.text("notified_at IS NULL"),
        postgresql_where=sa.text("notified_at IS NULL"),
    )

    op.create_table(
        "registrant_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("domain_name", sa.String(length=253), nullable=False),
        sa.Column(
            "policy",
            sa.Enum(
                "cor-2024",
                "cord-2026",
                name="policy",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "applied",
                "expired",
                "cancelled",
                name="state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("prior_contact_id", sa.Integer(), nullable=True),
        sa.Column("prior_handle", sa.String(length=16), nullable=True),
        sa.Column("new_contact_id", sa.Integer(), nullable=False),
        sa.Column("new_handle", sa.String(length=16), nullable=False),
        sa.Column(
            "fields",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("applied_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "transfer_lock_until", nichandle.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("lock_released_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_registrant_change_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["registrant_change_request.id"],
            name=op.f("fk_registrant_change_request_id_registrant_change_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrant_change")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_registrant_change_account_id_domain_id",
        "registrant_change",
        ["account_id", "domain_id"],
        unique=False,
    )
    op.create_index(
        "ix_registrant_change_account_id_new_contact_id",
        "registrant_change",
        ["account_id", "new_contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_registrant_change_account_id_prior_contact_id",
        "registrant_change",
        ["account_id", "prior_contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_registrant_change_lock_until",
        "registrant_change",
        ["transfer_lock_until"],
        unique=False,
        sqlite_where=sa.text("lock_released_at IS NULL"),
        postgresql_where=sa.text("lock_released_at IS NULL"),
    )
    op.create_index(
        "ix_registrant_change_request_id", "registrant_change", ["request_id"], unique=False
    )
    op.create_index(
        "uq_registrant_change_pending_domain",
        "registrant_change",
        ["domain_id"],
        unique=True,
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )

    op.create_table(
        "registrant_change_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column(
            "party",
            sa.Enum(
                "prior", "new", name="party", native_enum=False, create_constraint=True, length=20
            ),
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "confirm",
                "applied",
                "expired",
                "notice",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("to_email", sa.String(length=320), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "sent",
                "logged",
                "bounced",
                "failed",
                name="state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", nichandle.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_attempt_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_registrant_change_mail_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["registrant_change_request.id"],
            name=op.f("fk_registrant_change_mail_request_id_registrant_change_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrant_change_mail")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_registrant_change_mail_due",
        "registrant_change_mail",
        ["next_attempt_at"],
        unique=False,
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_registrant_change_mail_request_id",
        "registrant_change_mail",
        ["request_id"],
        unique=False,
    )

    op.create_table(
        "registrant_change_token",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column(
            "party",
            sa.Enum(
                "prior", "new", name="party", native_enum=False, create_constraint=True, length=20
            ),
            nullable=False,
        ),
        sa.Column("created_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_registrant_change_token_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["registrant_change_request.id"],
            name=op.f("fk_registrant_change_token_request_id_registrant_change_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_registrant_change_token")),
    )
    op.create_index(
        "ix_registrant_change_token_request_id",
        "registrant_change_token",
        ["request_id"],
        unique=False,
    )

    op.create_table(
        "registrant_notice_opt_out",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("opted_out_at", nichandle.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opted_out_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_registrant_notice_opt_out_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_registrant_notice_opt_out_contact_id_contact"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_registrant_notice_opt_out")),
    )


def downgrade() -> None:
    op.drop_table("registrant_notice_opt_out")
    op.drop_index("ix_registrant_change_token_request_id", table_name="registrant_change_token")

    op.drop_table("registrant_change_token")
    op.drop_index("ix_registrant_change_mail_request_id", table_name="registrant_change_mail")
    op.drop_index(
        "ix_registrant_change_mail_due",
        table_name="registrant_change_mail",
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )

    op.drop_table("registrant_change_mail")
    op.drop_index(
        "uq_registrant_change_pending_domain",
        table_name="registrant_change",
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.drop_index("ix_registrant_change_request_id", table_name="registrant_change")
    op.drop_index(
        "ix_registrant_change_lock_until",
        table_name="registrant_change",
        sqlite_where=sa.text("lock_released_at IS NULL"),
        postgresql_where=sa.text("lock_released_at IS NULL"),
    )
    op.drop_index(
        "ix_registrant_change_account_id_prior_contact_id", table_name="registrant_change"
    )
    op.drop_index("ix_registrant_change_account_id_new_contact_id", table_name="registrant_change")
    op.drop_index("ix_registrant_change_account_id_domain_id", table_name="registrant_change")

    op.drop_table("registrant_change")
    op.drop_index(
        "ix_registrant_change_request_notify_due_at",
        table_name="registrant_change_request",
        sqlite_where=sa.text("notified_at IS NULL"),
        postgresql_where=sa.text("notified_at IS NULL"),
    )
    op.drop_index(
        "ix_registrant_change_request_expires_at",
        table_name="registrant_change_request",
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )

    op.drop_table("registrant_change_request")
    op.drop_index("ix_designated_agent_account_id", table_name="designated_agent")

    op.drop_table("designated_agent")
