"""Domains and the contacts they use in each role."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from nichandle.contacts.models import Contact
from nichandle.db.base import NO_ID_REUSE, Base, JSONVariant, UTCDateTime, state_column, utcnow

# The core's role names; the native wire calls the registrant "owner".
ROLES: tuple[str, ...] = ("registrant", "admin", "tech", "billing")


class DomainStatus(StrEnum):
    """A domain's stored status. ``expired`` is never stored by the core: a registration reads
    expired from its expiry on (domains.status.status_at), so no job has to run at that moment
    and a renewal needs no status change; the value stays allowed for a registry that reports
    it. ``suspended`` is for registrant verification (ICANN RAA), whose issue sets it: changing
    the CHECK later would mean rebuilding the table on SQLite."""

    REGISTERED = "registered"
    SUSPENDED = "suspended"
    EXPIRED = "expired"


class Domain(Base):
    __tablename__ = "domain"
    __table_args__ = (
        UniqueConstraint("account_id", "name", name="uq_domain_account_id_name"),
        Index("ix_domain_account_id_id", "account_id", "id"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(253))  # A-label (punycode), lower case
    tld: Mapped[str] = mapped_column(String(63))
    status: Mapped[DomainStatus] = mapped_column(
        state_column(DomainStatus, "status"), default=DomainStatus.REGISTERED
    )
    autorenew: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)  # inter-registrar transfer lock
    privacy: Mapped[bool] = mapped_column(Boolean, default=False)
    nameservers: Mapped[list[str]] = mapped_column(JSONVariant, default=list)
    # Minor units (cents), so money never passes through a float.
    renewal_price_minor: Mapped[int | None] = mapped_column(Integer)
    transfer_lock_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_reason: Mapped[str | None] = mapped_column(String(255))
    # Staff's hold while a dispute runs: every change of registrant is refused (ICANN Transfer
    # Policy II.C.3); docs/registrant-change.md.
    dispute_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The registrant's opt-out of the 60-day lock after a change of registrant, with who set it
    # and when (the policy asks that it be given before the change is requested).
    transfer_lock_opt_out: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    transfer_lock_opt_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    transfer_lock_opt_out_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    roles: Mapped[list[DomainContact]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )


class DomainContact(Base):
    """One row per (domain, role) that names a contact; a missing row means "the default"."""

    __tablename__ = "domain_contact"
    __table_args__ = (Index("ix_domain_contact_account_id_contact_id", "account_id", "contact_id"),)

    domain_id: Mapped[int] = mapped_column(
        ForeignKey("domain.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    # RESTRICT: a contact in use can never vanish from under a domain.
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="RESTRICT"))

    contact: Mapped[Contact] = relationship(lazy="raise")
