"""SSL certificates: each names the contact it was issued to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from nichandle.contacts.models import Contact
from nichandle.db.base import Base, UTCDateTime, utcnow


class Certificate(Base):
    __tablename__ = "certificate"
    __table_args__ = (
        Index("ix_certificate_account_id_id", "account_id", "id"),
        Index("ix_certificate_account_id_contact_id", "account_id", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    common_name: Mapped[str] = mapped_column(String(253))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="RESTRICT"))
    state: Mapped[str] = mapped_column(String(20), default="issued")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    contact: Mapped[Contact] = relationship(lazy="raise")
