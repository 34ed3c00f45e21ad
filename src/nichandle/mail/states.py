"""The mail outboxes' common part (registrant verification, change of registrant): where a mail
stands and its delivery's bookkeeping, which worker/mails leases and records alike."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from nichandle.db.base import UTCDateTime, state_column, utcnow


class MailState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    LOGGED = "logged"  # no SMTP configured: written to the log with its link
    BOUNCED = "bounced"  # refused permanently (5xx)
    FAILED = "failed"  # refused temporarily for the whole retry window, or no longer to send


class QueuedMail:
    """The columns of a mail waiting in an outbox (a mixin of the outboxes' tables)."""

    @declared_attr
    def state(cls) -> Mapped[MailState]:
        # Declared per table: each gets its own CHECK (ck_<table>_state).
        return mapped_column(state_column(MailState, "state"), default=MailState.PENDING)

    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
