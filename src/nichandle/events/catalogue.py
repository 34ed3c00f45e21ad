"""The event catalogue: every event nichandle emits, with its typed payload.

An event is written to the outbox in the transaction of the change it reports (``emit``), so it
exists exactly when the change does. Its catalogue name (``contact.updated``) is the one stored
and the one the native API shows, except where Domain Chief has its own (the native feed's
``contact.changed``); the other dialects map names in their own packages. The verification and
registrant-change capabilities add their types here.

Payloads hold what a consumer needs without calling back: a contact event carries the whole
contact as history keeps it (``contacts.service.snapshot`` plus ``id``), so a deleted contact's
event still says who it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypedDict, TypeVar

# --- payloads -------------------------------------------------------------------------------


class ContactCreated(TypedDict):
    contact: dict[str, Any]


class ContactUpdated(TypedDict):
    before: dict[str, Any]
    contact: dict[str, Any]


class ContactDeleted(TypedDict):
    contact: dict[str, Any]


class DomainChanged(TypedDict):
    """domain.created / updated / deleted: the domain and its settings after the change (before
    it, for a delete). Its roles are in domain.contacts_changed."""

    domain: str
    domain_id: int
    status: str  # registered, suspended, expired (as clients read it, domains.status)
    autorenew: bool
    privacy: bool
    locked: bool
    expires_at: str  # ISO 8601, UTC
    created_at: str
    updated_at: str


class _DomainRoles(TypedDict):
    domain: str
    domain_id: int
    roles: list[str]


# total=False rather than NotRequired: with postponed annotations, TypedDict cannot see
# NotRequired, and __required_keys__ (the catalogue's contract, docs and tests) would be wrong.
class DomainContactsChanged(_DomainRoles, total=False):
    """The roles of a domain whose contact changed: a new assignment, or the details of the
    contact behind them (``contact`` names it then)."""

    contact: str


class _DomainLock(DomainChanged):
    lock: Literal["transfer", "registrant_change"]
    action: Literal["added", "removed"]
    registry_statuses: list[str]


class DomainLockChanged(_DomainLock, total=False):
    """A lock added to or removed from a domain (name.com's domain.lock.status_change), with
    the domain's settings after it: its own transfer lock, or the one that follows a change of
    registrant (domain.transfer_lock.added / removed, until ``transfer_lock_until``)."""

    transfer_lock_until: str


class _RegistrantChange(DomainChanged):
    registrant_change_id: int
    policy: str  # cor-2024, cord-2026
    state: str  # pending, applied, expired, cancelled
    prior_contact: str | None  # handles
    new_contact: str
    fields: list[str]  # the material fields: first_name, last_name, company_name, email
    requested_at: str
    # The contact the domain's registrant role names now (the prior one until applied), and the
    # new registrant as history keeps it, with its id (DNSimple's webhooks show it).
    registrant_id: int | None
    registrant: dict[str, Any]


class RegistrantChangeEvent(_RegistrantChange, total=False):
    """domain.registrant_change.started / confirmed / applied / expired / cancelled: a change of
    a domain's registrant (docs/registrant-change.md), with the domain's settings."""

    confirm_by: str  # a pending change expires then
    confirmed_by: str  # confirmed: the party (prior, new) and how (link, agent:ID)
    applied_at: str
    transfer_lock_until: str  # applied with the 60-day lock


class CertificateChanged(TypedDict):
    certificate_id: int
    common_name: str
    contact: str  # the handle it was issued to


class WebhookDeactivated(TypedDict):
    """A webhook whose deliveries failed for the whole grace period, switched off."""

    webhook_id: int
    url: str
    failing_since: str


class WebhookTest(TypedDict):
    """Sent to one webhook on request (POST /api/v1/webhooks/{id}/test), to no one else."""

    webhook_id: int
    url: str


class _VerificationRequired(TypedDict):
    verification_id: int
    email: str
    contact: str | None  # the handle whose change started it
    reason: str  # new_registration, registrant_change, email_change
    state: str  # open, verified
    deadline_at: str
    domains: list[str]


class ContactVerificationChanged(_VerificationRequired, total=False):
    """contact.verification.started / reminded / verified / bounced: a registrant email's
    verification (docs/verification.md)."""

    verified_at: str
    method: str  # link, api
    bounce_reason: str


class DomainSuspension(DomainChanged):
    """domain.suspended / unsuspended: a registrant verification's deadline passed, or it was
    verified; with the EPP statuses asked of the registry."""

    reason: str
    registry_statuses: list[str]


def timestamp(moment: datetime) -> str:
    """A time as payloads carry it: ISO 8601 in UTC, with Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


P = TypeVar("P", bound=Mapping[str, Any])


@dataclass(frozen=True)
class Resource:
    """What an event is about: ``{"type", "id", "parent"}`` in the native feed."""

    type: str
    id: str
    parent: str | None = None


@dataclass(frozen=True)
class EventType(Generic[P]):
    """A named event with a typed payload and the resource it is about."""

    name: str
    payload: type[P]
    resource: Callable[[P], Resource]
    # False: the worker's dispatch passes it by; whoever emits it makes its deliveries.
    dispatched: bool = True

    @property
    def activity(self) -> str:
        """The verb: ``updated`` of ``contact.updated``."""
        return self.name.rpartition(".")[2]

    def __str__(self) -> str:
        return self.name


def _contact(payload: ContactCreated | ContactUpdated | ContactDeleted) -> Resource:
    contact = payload["contact"]
    return Resource("contact", contact["handle"], contact.get("parent_handle"))


def _domain(
    payload: DomainChanged
    | DomainContactsChanged
    | DomainLockChanged
    | DomainSuspension
    | RegistrantChangeEvent,
) -> Resource:
    return Resource("domain", payload["domain"])


def _certificate(payload: CertificateChanged) -> Resource:
    return Resource("certificate", str(payload["certificate_id"]), payload["contact"])


def _verification(payload: ContactVerificationChanged) -> Resource:
    return Resource("contact_verification", str(payload["verification_id"]), payload["contact"])


def _webhook(payload: WebhookDeactivated | WebhookTest) -> Resource:
    return Resource("webhook", str(payload["webhook_id"]))


CONTACT_CREATED = EventType("contact.created", ContactCreated, _contact)
CONTACT_UPDATED = EventType("contact.updated", ContactUpdated, _contact)
CONTACT_DELETED = EventType("contact.deleted", ContactDeleted, _contact)
DOMAIN_CREATED = EventType("domain.created", DomainChanged, _domain)
DOMAIN_UPDATED = EventType("domain.updated", DomainChanged, _domain)
DOMAIN_DELETED = EventType("domain.deleted", DomainChanged, _domain)
DOMAIN_CONTACTS_CHANGED = EventType("domain.contacts_changed", DomainContactsChanged, _domain)
DOMAIN_LOCK_CHANGED = EventType("domain.lock_changed", DomainLockChanged, _domain)
DOMAIN_TRANSFER_LOCK_ADDED = EventType("domain.transfer_lock.added", DomainLockChanged, _domain)
DOMAIN_TRANSFER_LOCK_REMOVED = EventType("domain.transfer_lock.removed", DomainLockChanged, _domain)
DOMAIN_REGISTRANT_CHANGE_STARTED = EventType(
    "domain.registrant_change.started", RegistrantChangeEvent, _domain
)
DOMAIN_REGISTRANT_CHANGE_CONFIRMED = EventType(
    "domain.registrant_change.confirmed", RegistrantChangeEvent, _domain
)
DOMAIN_REGISTRANT_CHANGE_APPLIED = EventType(
    "domain.registrant_change.applied", RegistrantChangeEvent, _domain
)
DOMAIN_REGISTRANT_CHANGE_EXPIRED = EventType(
    "domain.registrant_change.expired", RegistrantChangeEvent, _domain
)
DOMAIN_REGISTRANT_CHANGE_CANCELLED = EventType(
    "domain.registrant_change.cancelled", RegistrantChangeEvent, _domain
)
CERTIFICATE_CREATED = EventType("certificate.created", CertificateChanged, _certificate)
CERTIFICATE_DELETED = EventType("certificate.deleted", CertificateChanged, _certificate)
DOMAIN_SUSPENDED = EventType("domain.suspended", DomainSuspension, _domain)
DOMAIN_UNSUSPENDED = EventType("domain.unsuspended", DomainSuspension, _domain)
CONTACT_VERIFICATION_STARTED = EventType(
    "contact.verification.started", ContactVerificationChanged, _verification
)
CONTACT_VERIFICATION_REMINDED = EventType(
    "contact.verification.reminded", ContactVerificationChanged, _verification
)
CONTACT_VERIFICATION_VERIFIED = EventType(
    "contact.verification.verified", ContactVerificationChanged, _verification
)
CONTACT_VERIFICATION_BOUNCED = EventType(
    "contact.verification.bounced", ContactVerificationChanged, _verification
)
WEBHOOK_DEACTIVATED = EventType("webhook.deactivated", WebhookDeactivated, _webhook)
# Sent to the one webhook under test, whatever its filter (webhooks.service.queue_test).
WEBHOOK_TEST = EventType("webhook.test", WebhookTest, _webhook, dispatched=False)

CATALOGUE: dict[str, EventType[Any]] = {
    event.name: event
    for event in (
        CONTACT_CREATED,
        CONTACT_UPDATED,
        CONTACT_DELETED,
        DOMAIN_CREATED,
        DOMAIN_UPDATED,
        DOMAIN_DELETED,
        DOMAIN_CONTACTS_CHANGED,
        DOMAIN_LOCK_CHANGED,
        DOMAIN_TRANSFER_LOCK_ADDED,
        DOMAIN_TRANSFER_LOCK_REMOVED,
        DOMAIN_REGISTRANT_CHANGE_STARTED,
        DOMAIN_REGISTRANT_CHANGE_CONFIRMED,
        DOMAIN_REGISTRANT_CHANGE_APPLIED,
        DOMAIN_REGISTRANT_CHANGE_EXPIRED,
        DOMAIN_REGISTRANT_CHANGE_CANCELLED,
        CERTIFICATE_CREATED,
        CERTIFICATE_DELETED,
        DOMAIN_SUSPENDED,
        DOMAIN_UNSUSPENDED,
        CONTACT_VERIFICATION_STARTED,
        CONTACT_VERIFICATION_REMINDED,
        CONTACT_VERIFICATION_VERIFIED,
        CONTACT_VERIFICATION_BOUNCED,
        WEBHOOK_DEACTIVATED,
        WEBHOOK_TEST,
    )
}
