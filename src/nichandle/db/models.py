"""Imports every model so Base.metadata knows the whole schema (migrations, drift checks)."""

from nichandle.accounts.models import Account, ApiToken, Membership, User
from nichandle.certificates.models import Certificate
from nichandle.contacts.models import Contact
from nichandle.db.base import Base
from nichandle.domains.models import Domain, DomainContact
from nichandle.events.models import Delivery, OutboxEvent
from nichandle.history.models import ContactVersion, DomainRoleChange
from nichandle.registrant_changes.models import (
    DesignatedAgent,
    NoticeOptOut,
    RegistrantChange,
    RegistrantChangeMail,
    RegistrantChangeRequest,
    RegistrantChangeToken,
)
from nichandle.verification.models import (
    Verification,
    VerificationDomain,
    VerificationEntry,
    VerificationMail,
    VerificationToken,
)
from nichandle.webhooks.models import Webhook

__all__ = [
    "Account",
    "ApiToken",
    "Base",
    "Certificate",
    "Contact",
    "ContactVersion",
    "Delivery",
    "DesignatedAgent",
    "Domain",
    "DomainContact",
    "DomainRoleChange",
    "Membership",
    "NoticeOptOut",
    "OutboxEvent",
    "RegistrantChange",
    "RegistrantChangeMail",
    "RegistrantChangeRequest",
    "RegistrantChangeToken",
    "User",
    "Verification",
    "VerificationDomain",
    "VerificationEntry",
    "VerificationMail",
    "VerificationToken",
    "Webhook",
]
