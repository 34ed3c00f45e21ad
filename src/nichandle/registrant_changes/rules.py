"""The change-of-registrant policy in force and its timings (settings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from nichandle.domains import names
from nichandle.registrant_changes.models import Policy
from nichandle.settings import Settings


@dataclass(frozen=True)
class Rules:
    policy: Policy
    expiry: timedelta  # a pending change's life (cor-2024)
    transfer_lock: timedelta  # after an applied change (cor-2024), unless opted out
    notice_delay: timedelta  # cord-2026: the notice is due this long after the change
    exempt: frozenset[str]
    required: frozenset[str]

    @classmethod
    def of(cls, settings: Settings) -> Rules:
        return cls(
            policy=Policy(settings.transfer_policy),
            expiry=timedelta(days=settings.registrant_change_expiry_days),
            transfer_lock=timedelta(days=settings.transfer_lock_days),
            notice_delay=timedelta(minutes=settings.registrant_change_notice_delay_minutes),
            exempt=names.tld_list(settings.registrant_change_exempt_tlds),
            required=names.tld_list(settings.registrant_change_required_tlds),
        )

    def governs(self, domain_name: str) -> bool:
        """Whether the policy binds the domain: gTLDs, not ccTLDs (the lists adjust both)."""
        tld = names.tld_of(domain_name)
        return names.icann_governed(tld, exempt=self.exempt, required=self.required)


_rules = Rules.of(Settings.model_construct())


def configure(settings: Settings) -> None:
    """The rules of this process, from its settings (write_path.connect, the worker)."""
    global _rules
    _rules = Rules.of(settings)


def rules() -> Rules:
    return _rules
