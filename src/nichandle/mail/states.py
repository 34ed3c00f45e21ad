"""Where a mail of an outbox stands (registrant verification, change of registrant)."""

from __future__ import annotations

from enum import StrEnum


class MailState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    LOGGED = "logged"  # no SMTP configured: written to the log with its link
    BOUNCED = "bounced"  # refused permanently (5xx)
    FAILED = "failed"  # refused temporarily for the whole retry window, or no longer to send
