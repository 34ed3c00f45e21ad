"""A domain's status as clients read it: the stored one, or ``expired`` from its expiry on."""

from __future__ import annotations

from datetime import datetime

from nichandle.db.base import utcnow
from nichandle.domains.models import Domain, DomainStatus


def status_at(domain: Domain, now: datetime | None = None) -> DomainStatus:
    """``expired`` once ``expires_at`` has passed, whatever is stored (a suspended registration
    that lapsed is expired too); the stored status otherwise. Derived rather than stored, so it
    is right at the instant of expiry and again at once after a renewal moves ``expires_at``."""
    if domain.expires_at <= (now or utcnow()):
        return DomainStatus.EXPIRED
    return DomainStatus(domain.status)


def registry_statuses(domain: Domain) -> list[str]:
    """The EPP statuses (RFC 5731) the registrar asks the registry for, from the domain's locks
    and holds."""
    statuses = []
    suspended = domain.status == DomainStatus.SUSPENDED
    if suspended:
        statuses.append("clientHold")
    # A suspension (registrant verification) holds transfers as well as resolution.
    if domain.locked or suspended:
        statuses.append("clientTransferProhibited")
    return statuses or ["ok"]
