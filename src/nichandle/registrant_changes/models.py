"""Changes of registrant (ICANN Transfer Policy, Part II), their confirmations, mails and the
Designated Agents that may approve them. docs/registrant-change.md."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from nichandle.db.base import NO_ID_REUSE, Base, JSONVariant, UTCDateTime, state_column, utcnow
from nichandle.mail.states import QueuedMail


class Policy(StrEnum):
    COR_2024 = "cor-2024"  # both parties confirm, then a 60-day transfer lock
    CORD_2026 = "cord-2026"  # applied at once, the registrant notified


class ChangeState(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Party(StrEnum):
    PRIOR = "prior"
    NEW = "new"


class AgentParties(StrEnum):
    PRIOR = "prior"
    NEW = "new"
    BOTH = "both"


class MailKind(StrEnum):
    CONFIRM = "confirm"  # cor-2024: please confirm, with the party's link
    APPLIED = "applied"  # cor-2024: done (domains, fields, date, help)
    EXPIRED = "expired"  # cor-2024: nobody confirmed in time
    NOTICE = "notice"  # cord-2026: the change was made, how to reverse it


class RegistrantChangeRequest(Base):
    """One edit's changes of registrant: the two parties it asks and their confirmations. An
    edit of a registrant of 10,000 domains is one request: one mail per party, one link each."""

    __tablename__ = "registrant_change_request"
    __table_args__ = (
        # The worker's questions: which pending requests expire, which notices are due.
        Index(
            "ix_registrant_change_request_expires_at",
            "expires_at",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        Index(
            "ix_registrant_change_request_notify_due_at",
            "notify_due_at",
            sqlite_where=text("notified_at IS NULL"),
            postgresql_where=text("notified_at IS NULL"),
        ),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    policy: Mapped[Policy] = mapped_column(state_column(Policy, "policy"))
    state: Mapped[ChangeState] = mapped_column(state_column(ChangeState, "state"))
    fields: Mapped[list[str]] = mapped_column(JSONVariant, default=list)
    # The parties as they were asked (the contacts may change again meanwhile).
    prior_email: Mapped[str] = mapped_column(String(320))
    prior_name: Mapped[str] = mapped_column(String(255))
    new_email: Mapped[str] = mapped_column(String(320))
    new_name: Mapped[str] = mapped_column(String(255))
    prior_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    prior_confirmed_by: Mapped[str | None] = mapped_column(String(64))  # link, agent:ID
    new_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    new_confirmed_by: Mapped[str | None] = mapped_column(String(64))
    designated_agent_id: Mapped[int | None] = mapped_column(Integer)
    requested_by: Mapped[str] = mapped_column(String(64))  # token:ID, user:ID, cli, web
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # cor-2024, pending
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # cord-2026: when the worker mails the notice (stored, so a restarted worker catches up).
    notify_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RegistrantChange(Base):
    """A change of one domain's registrant, from the prior contact to the new one. Never
    deleted: with its request, it is the domain's and both contacts' history of it."""

    __tablename__ = "registrant_change"
    __table_args__ = (
        Index("ix_registrant_change_account_id_domain_id", "account_id", "domain_id"),
        Index("ix_registrant_change_request_id", "request_id"),
        Index("ix_registrant_change_account_id_new_contact_id", "account_id", "new_contact_id"),
        Index("ix_registrant_change_account_id_prior_contact_id", "account_id", "prior_contact_id"),
        # At most one pending change per domain: a new one replaces (cancels) it.
        Index(
            "uq_registrant_change_pending_domain",
            "domain_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        # The worker's question: which applied change's lock ends now.
        Index(
            "ix_registrant_change_lock_until",
            "transfer_lock_until",
            sqlite_where=text("lock_released_at IS NULL"),
            postgresql_where=text("lock_released_at IS NULL"),
        ),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(
        ForeignKey("registrant_change_request.id", ondelete="CASCADE")
    )
    # No foreign keys to the domain and contacts: history outlives them.
    domain_id: Mapped[int] = mapped_column(Integer)
    domain_name: Mapped[str] = mapped_column(String(253))
    policy: Mapped[Policy] = mapped_column(state_column(Policy, "policy"))
    state: Mapped[ChangeState] = mapped_column(state_column(ChangeState, "state"))
    prior_contact_id: Mapped[int | None] = mapped_column(Integer)
    prior_handle: Mapped[str | None] = mapped_column(String(16))
    new_contact_id: Mapped[int] = mapped_column(Integer)
    new_handle: Mapped[str] = mapped_column(String(16))
    fields: Mapped[list[str]] = mapped_column(JSONVariant, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # expired, cancelled
    transfer_lock_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lock_released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RegistrantChangeToken(Base):
    """A party's single-use link, stored as its SHA-256; one per mail."""

    __tablename__ = "registrant_change_token"
    __table_args__ = (Index("ix_registrant_change_token_request_id", "request_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("registrant_change_request.id", ondelete="CASCADE")
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    party: Mapped[Party] = mapped_column(state_column(Party, "party"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RegistrantChangeMail(QueuedMail, Base):
    """The mail outbox of changes of registrant: written with the change, sent by the worker."""

    __tablename__ = "registrant_change_mail"
    __table_args__ = (
        Index(
            "ix_registrant_change_mail_due",
            "next_attempt_at",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        Index("ix_registrant_change_mail_request_id", "request_id"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(
        ForeignKey("registrant_change_request.id", ondelete="CASCADE")
    )
    party: Mapped[Party] = mapped_column(state_column(Party, "party"))
    kind: Mapped[MailKind] = mapped_column(state_column(MailKind, "kind"))
    to_email: Mapped[str] = mapped_column(String(320))


class DesignatedAgent(Base):
    """Someone the registrant authorised to approve changes of registrant on its behalf (ICANN
    Transfer Policy II.A.1.2): for the prior registrant, the new one, or both."""

    __tablename__ = "designated_agent"
    __table_args__ = (Index("ix_designated_agent_account_id", "account_id"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))
    parties: Mapped[AgentParties] = mapped_column(state_column(AgentParties, "parties"))
    authorized_at: Mapped[datetime] = mapped_column(UTCDateTime())  # when it was given
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NoticeOptOut(Base):
    """A registrant (contact) that opted out of cord-2026's change notices, since when."""

    __tablename__ = "registrant_notice_opt_out"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    opted_out_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opted_out_by: Mapped[str] = mapped_column(String(64))
