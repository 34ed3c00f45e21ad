"""Registrant verifications, the domains each covers, their mails and their history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from nichandle.db.base import NO_ID_REUSE, Base, UTCDateTime, state_column, utcnow
from nichandle.mail.states import QueuedMail


class VerificationState(StrEnum):
    OPEN = "open"
    VERIFIED = "verified"


class VerificationReason(StrEnum):
    NEW_REGISTRATION = "new_registration"
    REGISTRANT_CHANGE = "registrant_change"
    EMAIL_CHANGE = "email_change"


class VerificationMethod(StrEnum):
    LINK = "link"  # the registrant confirmed through the mailed link
    API = "api"  # staff or a reseller marked it verified (the actor is recorded)


class MailKind(StrEnum):
    REQUEST = "request"
    REMINDER = "reminder"
    RESEND = "resend"


class EntryKind(StrEnum):
    SENT = "sent"
    REMINDED = "reminded"
    VERIFIED = "verified"
    SUSPENDED = "suspended"
    UNSUSPENDED = "unsuspended"
    BOUNCED = "bounced"


class Verification(Base):
    """One registrant email of an account to verify. One open per (account, email): every
    trigger while it is open adds its domains to it instead of sending another mail."""

    __tablename__ = "verification"
    __table_args__ = (
        Index(
            "uq_verification_open_email",
            "account_id",
            "email_normalized",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
        Index("ix_verification_account_id_email_normalized", "account_id", "email_normalized"),
        # The worker's question: which open verification has something due (a reminder, the
        # deadline)?
        Index(
            "ix_verification_due_at",
            "due_at",
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))  # as the contact that started it spelt it
    email_normalized: Mapped[str] = mapped_column(String(320))
    state: Mapped[VerificationState] = mapped_column(
        state_column(VerificationState, "state"), default=VerificationState.OPEN
    )
    reason: Mapped[VerificationReason] = mapped_column(state_column(VerificationReason, "reason"))
    # The contact whose change started it (its handle names it in history and in the wire).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    # When the worker next has something to do for it (a reminder, the suspension); None when
    # nothing is left. Stored, so a restarted worker catches up from the table.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_mail_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the resend limit
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bounce_reason: Mapped[str | None] = mapped_column(String(500))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_method: Mapped[VerificationMethod | None] = mapped_column(
        state_column(VerificationMethod, "verified_method")
    )
    verified_ip: Mapped[str | None] = mapped_column(String(45))
    verified_by_token_id: Mapped[int | None] = mapped_column(Integer)


class VerificationDomain(Base):
    """A gTLD domain whose registrant a verification concerns (named in its mails; suspended
    at its deadline while its registrant still has the address; lifted when it is verified)."""

    __tablename__ = "verification_domain"
    __table_args__ = (Index("ix_verification_domain_domain_id", "domain_id"),)

    verification_id: Mapped[int] = mapped_column(
        ForeignKey("verification.id", ondelete="CASCADE"), primary_key=True
    )
    domain_id: Mapped[int] = mapped_column(
        ForeignKey("domain.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))


class VerificationToken(Base):
    """A link's single-use secret, stored as its SHA-256: one per mail, so a reminder does not
    break the link of the first mail. Valid while its verification is open, until expires_at."""

    __tablename__ = "verification_token"
    __table_args__ = (Index("ix_verification_token_verification_id", "verification_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    verification_id: Mapped[int] = mapped_column(ForeignKey("verification.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VerificationMail(QueuedMail, Base):
    """The mail outbox: written with the change, sent by the worker (retried on 4xx)."""

    __tablename__ = "verification_mail"
    __table_args__ = (
        Index(
            "ix_verification_mail_due",
            "next_attempt_at",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        Index("ix_verification_mail_verification_id", "verification_id"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    verification_id: Mapped[int] = mapped_column(ForeignKey("verification.id", ondelete="CASCADE"))
    kind: Mapped[MailKind] = mapped_column(state_column(MailKind, "kind"))


class VerificationEntry(Base):
    """History of a verification: of its contact, and of each domain suspended or lifted."""

    __tablename__ = "verification_entry"
    __table_args__ = (
        Index("ix_verification_entry_account_id_contact_id", "account_id", "contact_id"),
        Index("ix_verification_entry_account_id_domain_id", "account_id", "domain_id"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    # No foreign keys: history outlives the contact and the domain.
    verification_id: Mapped[int] = mapped_column(Integer)
    contact_id: Mapped[int | None] = mapped_column(Integer)
    domain_id: Mapped[int | None] = mapped_column(Integer)
    domain_name: Mapped[str | None] = mapped_column(String(253))
    kind: Mapped[EntryKind] = mapped_column(state_column(EntryKind, "kind"))
    # How it happened: mail, log (no SMTP), link, api, worker.
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
