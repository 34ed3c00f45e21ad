"""SSL certificates: each names the contact it was issued to."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from nichandle.contacts.models import Contact
from nichandle.db.base import NO_ID_REUSE, Base, UTCDateTime, state_column, utcnow


class CertificateState(StrEnum):
    """A certificate's state: the words the native API accepts."""

    REQUESTING = "requesting"
    ISSUED = "issued"
    EXPIRED = "expired"
    REVOKED = "revoked"


class Certificate(Base):
    __tablename__ = "certificate"
    __table_args__ = (
        Index("ix_certificate_account_id_id", "account_id", "id"),
        Index("ix_certificate_account_id_contact_id", "account_id", "contact_id"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    common_name: Mapped[str] = mapped_column(String(253))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="RESTRICT"))
    state: Mapped[CertificateState] = mapped_column(
        state_column(CertificateState, "state"), default=CertificateState.ISSUED
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    contact: Mapped[Contact] = relationship(lazy="raise")
