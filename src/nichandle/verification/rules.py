"""Which domains need their registrant verified, and the verification's timings (settings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from nichandle.domains import names
from nichandle.settings import Settings


@dataclass(frozen=True)
class Rules:
    deadline: timedelta
    reminders: tuple[timedelta, ...]
    resend_after: timedelta
    exempt: frozenset[str]
    required: frozenset[str]

    @classmethod
    def of(cls, settings: Settings) -> Rules:
        days = sorted({int(day) for day in settings.verification_reminder_days.split(",") if day})
        deadline = settings.verification_deadline_days
        return cls(
            deadline=timedelta(days=deadline),
            reminders=tuple(timedelta(days=day) for day in days if 0 < day < deadline),
            resend_after=timedelta(seconds=settings.verification_resend_seconds),
            exempt=names.tld_list(settings.verification_exempt_tlds),
            required=names.tld_list(settings.verification_required_tlds),
        )

    def needs_verification(self, tld: str) -> bool:
        """gTLDs do (ICANN's RAA binds registrars for them); ccTLDs do not."""
        return names.icann_governed(tld, exempt=self.exempt, required=self.required)

    def next_due(self, created_at: datetime, reminders_sent: int) -> datetime:
        """When the worker next acts: the next reminder, else the deadline."""
        if reminders_sent < len(self.reminders):
            return created_at + self.reminders[reminders_sent]
        return created_at + self.deadline


_rules = Rules.of(Settings.model_construct())


def configure(settings: Settings) -> None:
    """The rules of this process, from its settings (write_path.connect, the worker)."""
    global _rules
    _rules = Rules.of(settings)


def rules() -> Rules:
    return _rules
