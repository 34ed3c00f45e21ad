"""Imports every model so Base.metadata knows the whole schema (migrations, drift checks)."""

from nichandle.accounts.models import Account, ApiToken, Membership, User
from nichandle.certificates.models import Certificate
from nichandle.contacts.models import Contact
from nichandle.db.base import Base
from nichandle.domains.models import Domain, DomainContact
from nichandle.events.models import OutboxEvent
from nichandle.history.models import ContactVersion, DomainRoleChange

__all__ = [
    "Account",
    "ApiToken",
    "Base",
    "Certificate",
    "Contact",
    "ContactVersion",
    "Domain",
    "DomainContact",
    "DomainRoleChange",
    "Membership",
    "OutboxEvent",
    "User",
]
