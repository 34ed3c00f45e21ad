"""registrant verification: verifications, their domains, tokens, mails and history

One open verification per (account, normalised email) (a partial unique index: two concurrent
triggers end in one row, one mail); due times stored for the worker (reminders, suspension), so
a restarted worker catches up; link tokens stored as SHA-256 only; mails as an outbox the worker
sends over SMTP.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nichandle.db.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = nichandle.db.base.UTCDateTime(timezone=True)
OPEN = sa.text("state = 'open'")
PENDING = sa.text("state = 'pending'")


def _state(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def _account() -> sa.Column[int]:
    return sa.Column("account_id", sa.Integer(), nullable=False)


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"],
        ["account.id"],
        name=op.f(f"fk_{table}_account_id_account"),
        ondelete="CASCADE",
    )


def _verification_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["verification_id"],
        ["verification.id"],
        name=op.f(f"fk_{table}_verification_id_verification"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "verification",
        sa.Column("id", sa.Integer(), nullable=False),
        _account(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_normalized", sa.String(320), nullable=False),
        sa.Column("state", _state("state", "open", "verified"), nullable=False),
        sa.Column(
            "reason",
            _state("reason", "new_registration", "registrant_change", "email_change"),
            nullable=False,
        ),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("deadline_at", UTC, nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("due_at", UTC, nullable=True),
        sa.Column("suspended_at", UTC, nullable=True),
        sa.Column("last_mail_at", UTC, nullable=True),
        sa.Column("bounced_at", UTC, nullable=True),
        sa.Column("bounce_reason", sa.String(500), nullable=True),
        sa.Column("verified_at", UTC, nullable=True),
        sa.Column("verified_method", _state("verified_method", "link", "api"), nullable=True),
        sa.Column("verified_ip", sa.String(45), nullable=True),
        sa.Column("verified_by_token_id", sa.Integer(), nullable=True),
        _account_fk("verification"),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_verification_contact_id_contact"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "uq_verification_open_email",
        "verification",
        ["account_id", "email_normalized"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_index(
        "ix_verification_account_id_email_normalized",
        "verification",
        ["account_id", "email_normalized"],
    )
    op.create_index(
        "ix_verification_due_at",
        "verification",
        ["due_at"],
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )

    op.create_table(
        "verification_domain",
        sa.Column("verification_id", sa.Integer(), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        _account(),
        _account_fk("verification_domain"),
        _verification_fk("verification_domain"),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domain.id"],
            name=op.f("fk_verification_domain_domain_id_domain"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "verification_id", "domain_id", name=op.f("pk_verification_domain")
        ),
    )
    op.create_index("ix_verification_domain_domain_id", "verification_domain", ["domain_id"])

    op.create_table(
        "verification_token",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("verification_id", sa.Integer(), nullable=False),
        _account(),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        _account_fk("verification_token"),
        _verification_fk("verification_token"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_verification_token")),
    )
    op.create_index(
        "ix_verification_token_verification_id", "verification_token", ["verification_id"]
    )

    op.create_table(
        "verification_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        _account(),
        sa.Column("verification_id", sa.Integer(), nullable=False),
        sa.Column("kind", _state("kind", "request", "reminder", "resend"), nullable=False),
        sa.Column(
            "state",
            _state("state", "pending", "sent", "logged", "bounced", "failed"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("lease_until", UTC, nullable=True),
        sa.Column("first_attempt_at", UTC, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("sent_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        _account_fk("verification_mail"),
        _verification_fk("verification_mail"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_mail")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_verification_mail_due",
        "verification_mail",
        ["next_attempt_at"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
    op.create_index(
        "ix_verification_mail_verification_id", "verification_mail", ["verification_id"]
    )

    op.create_table(
        "verification_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        _account(),
        sa.Column("verification_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("domain_id", sa.Integer(), nullable=True),
        sa.Column("domain_name", sa.String(253), nullable=True),
        sa.Column(
            "kind",
            _state("kind", "sent", "reminded", "verified", "suspended", "unsuspended", "bounced"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        _account_fk("verification_entry"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_entry")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_verification_entry_account_id_contact_id",
        "verification_entry",
        ["account_id", "contact_id"],
    )
    op.create_index(
        "ix_verification_entry_account_id_domain_id",
        "verification_entry",
        ["account_id", "domain_id"],
    )


def downgrade() -> None:
    for table in (
        "verification_entry",
        "verification_mail",
        "verification_token",
        "verification_domain",
        "verification",
    ):
        op.drop_table(table)
