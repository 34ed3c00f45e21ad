"""Version rows: every change of a contact, kept after the contact itself is gone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from nichandle.db.base import NO_ID_REUSE, Base, JSONVariant, UTCDateTime, utcnow


class ContactVersion(Base):
    __tablename__ = "contact_version"
    __table_args__ = (
        Index("ix_contact_version_account_id_handle", "account_id", "handle", "id"),
        Index("ix_contact_version_account_id_contact_id", "account_id", "contact_id"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    # No foreign key: the history outlives the contact.
    contact_id: Mapped[int] = mapped_column()
    handle: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))  # create | update | delete
    actor_token_id: Mapped[int | None] = mapped_column()
    # A web UI user (no token); no foreign key: the history outlives the user.
    actor_user_id: Mapped[int | None] = mapped_column()
    dialect: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONVariant)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONVariant)


class DomainRoleChange(Base):
    """A domain's role moving from one contact to another (None: the account default)."""

    __tablename__ = "domain_role_change"
    __table_args__ = (
        Index("ix_domain_role_change_account_id_domain_id", "account_id", "domain_id"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    domain_id: Mapped[int] = mapped_column()  # no foreign key: the history outlives the domain
    domain_name: Mapped[str] = mapped_column(String(253))
    role: Mapped[str] = mapped_column(String(16))
    before_handle: Mapped[str | None] = mapped_column(String(16))
    after_handle: Mapped[str | None] = mapped_column(String(16))
    actor_token_id: Mapped[int | None] = mapped_column()
    # A web UI user (no token); no foreign key: the history outlives the user.
    actor_user_id: Mapped[int | None] = mapped_column()
    dialect: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
