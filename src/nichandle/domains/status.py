"""A domain's status as clients read it: the stored one, or ``expired`` from its expiry on."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from nichandle.db.base import utcnow
from nichandle.domains.models import DomainStatus
from nichandle.events import catalogue


class DomainState(Protocol):
    """What these rules read of a domain: the ORM object, or its settings read as a row
    (domains.repository.DomainSettings, for events about thousands of domains)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def status(self) -> DomainStatus: ...
    @property
    def autorenew(self) -> bool: ...
    @property
    def privacy(self) -> bool: ...
    @property
    def locked(self) -> bool: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def transfer_lock_until(self) -> datetime | None: ...


def status_at(domain: DomainState, now: datetime | None = None) -> DomainStatus:
    """``expired`` once ``expires_at`` has passed, whatever is stored (a suspended registration
    that lapsed is expired too); the stored status otherwise. Derived rather than stored, so it
    is right at the instant of expiry and again at once after a renewal moves ``expires_at``."""
    if domain.expires_at <= (now or utcnow()):
        return DomainStatus.EXPIRED
    return DomainStatus(domain.status)


def registry_statuses(domain: DomainState) -> list[str]:
    """The EPP statuses (RFC 5731) the registrar asks the registry for, from the domain's locks
    and holds."""
    statuses = []
    suspended = domain.status == DomainStatus.SUSPENDED
    if suspended:
        statuses.append("clientHold")
    # A suspension (registrant verification) holds transfers as well as resolution.
    if transfer_prohibited(domain):
        statuses.append("clientTransferProhibited")
    return statuses or ["ok"]


def transfer_prohibited(domain: DomainState, now: datetime | None = None) -> bool:
    """Whether the domain may not move to another registrar: its own lock, a suspension
    (registrant verification), or the lock after a change of registrant until it ends (read
    from the time, so it ends on its day whenever the worker runs)."""
    until = domain.transfer_lock_until
    return (
        domain.locked
        or domain.status == DomainStatus.SUSPENDED
        or (until is not None and until > (now or utcnow()))
    )


def settings_payload(domain: DomainState) -> catalogue.DomainChanged:
    """The domain as its events carry it: its settings, times in UTC."""
    return catalogue.DomainChanged(
        domain=domain.name,
        domain_id=domain.id,
        status=status_at(domain).value,
        autorenew=domain.autorenew,
        privacy=domain.privacy,
        locked=domain.locked,
        expires_at=catalogue.timestamp(domain.expires_at),
        created_at=catalogue.timestamp(domain.created_at),
        updated_at=catalogue.timestamp(domain.updated_at),
    )


def lock_payload(
    domain: DomainState,
    *,
    lock: Literal["transfer", "registrant_change"],
    action: Literal["added", "removed"],
) -> catalogue.DomainLockChanged:
    """A lock added or removed, with the domain's settings and EPP statuses after it."""
    payload = catalogue.DomainLockChanged(
        **settings_payload(domain),  # type: ignore[typeddict-item]  # a DomainChanged in full
        lock=lock,
        action=action,
        registry_statuses=registry_statuses(domain),
    )
    if lock == "registrant_change" and domain.transfer_lock_until is not None:
        payload["transfer_lock_until"] = catalogue.timestamp(domain.transfer_lock_until)
    return payload
