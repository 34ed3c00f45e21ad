"""Accounts (teams), users, memberships and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nichandle.db.base import NO_ID_REUSE, Base, JSONVariant, UTCDateTime, utcnow


class Account(Base):
    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("slug", name="uq_account_slug"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64))
    # Nameservers a domain added without any gets.
    default_nameservers: Mapped[list[str]] = mapped_column(JSONVariant, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    # "user" is reserved in PostgreSQL.
    __tablename__ = "app_user"
    __table_args__ = (UniqueConstraint("email", name="uq_app_user_email"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    # argon2id (accounts/passwords.py); None: the user cannot sign in to the web UI yet.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # A one-time password (the first user's, printed by `serve`): replaced at the first sign-in.
    password_change_required: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Membership(Base):
    __tablename__ = "membership"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(20), default="owner")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiToken(Base):
    """Either an account token (account_id) or a personal token (user_id), never both."""

    __tablename__ = "api_token"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_api_token_token_hash"),
        CheckConstraint("(account_id IS NULL) <> (user_id IS NULL)", name="account_xor_user"),
        Index("ix_api_token_account_id", "account_id"),
        Index("ix_api_token_user_id", "user_id"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64))
    # The first characters of the secret, so people can tell their tokens apart in lists.
    token_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebSession(Base):
    """A signed-in browser: the cookie carries the secret, the row its hash, so signing out (or
    revoking) ends the session on the server whatever the browser kept."""

    __tablename__ = "web_session"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_web_session_token_hash"),
        Index("ix_web_session_user_id", "user_id"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    # The account the user works in now (the header shows it; the switcher changes it).
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    token_hash: Mapped[str] = mapped_column(String(64))
    # Every form of the session carries it (double submit against cross-site posts).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SiteSecret(Base):
    """Secrets the installation makes for itself on first use (the cookie signing key), so every
    process of one database signs alike without a setting."""

    __tablename__ = "site_secret"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
