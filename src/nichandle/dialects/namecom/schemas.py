"""name.com Core API v1 shapes (namecom-core-api-v1.7.0, seed 003), mapped to and from the core.

name.com embeds whole contacts in each domain role and carries a subset of the core's fields,
with street and house number in one ``address1``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from nichandle.contacts.addresses import compose_address1, street_fields
from nichandle.contacts.models import Contact
from nichandle.domains.models import ROLES
from nichandle.domains.service import DomainView, renewal_price
from nichandle.domains.status import transfer_prohibited
from nichandle.paging import Page
from nichandle.verification.models import Verification

# name.com's Contact schema requires a state; the core only where the country's format does.
REQUIRED_CORE_FIELDS = ("address_state",)

# Core field -> name.com field, for naming fields in errors.
WIRE_CONTACT_FIELDS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "company_name": "companyName",
    "address_street": "address1",
    "address_house_number": "address1",
    "address_line2": "address2",
    "address_city": "city",
    "address_state": "state",
    "address_postal_code": "zip",
    "address_country_code": "country",
    "email": "email",
    "phone": "phone",
    "fax": "fax",
}
WIRE_FIELDS = {
    "name": "domainName",
    "autorenew": "autorenewEnabled",
    "privacy": "privacyEnabled",
    "locked": "locked",
    "nameservers": "nameservers",
    "expires_at": "years",
    "years": "years",
    "page": "page",
    "per_page": "perPage",
}


def wire_field(field: str) -> str:
    """Core error keys -> name.com ones: ``registrant.address_postal_code`` ->
    ``contacts.registrant.zip``, ``per_page`` -> ``perPage``."""
    head, _, rest = field.partition(".")
    if head in ROLES:
        name, _, tail = rest.partition(".")
        wire = ".".join(filter(None, ["contacts", head, WIRE_CONTACT_FIELDS.get(name, name), tail]))
        return wire
    return ".".join(filter(None, [WIRE_FIELDS.get(head, head), rest]))


def timestamp(value: datetime) -> str:
    """name.com's date-times: UTC, whole seconds, ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Input(BaseModel):
    # Unknown fields are an error, never silently dropped; types are not coerced.
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class ContactIn(_Input):
    """A whole contact. ``""`` or null in an optional field means unset: name.com's responses
    always carry every field, and callers send back what they read."""

    firstName: str | None = None
    lastName: str | None = None
    companyName: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    email: str | None = None
    phone: str | None = None
    fax: str | None = None
    # Read-only in responses; sent back by read-modify-write callers, and ignored.
    isVerified: Any = None
    verificationId: Any = None

    def core_fields(self) -> dict[str, Any]:
        """Every field name.com carries, as the core names it (unset ones as None)."""
        return {
            "first_name": self.firstName,
            "last_name": self.lastName,
            "company_name": self.companyName,
            **street_fields(self.address1),
            "address_line2": self.address2,
            "address_city": self.city,
            "address_state": self.state,
            "address_postal_code": self.zip,
            "address_country_code": self.country,
            "email": self.email,
            "phone": self.phone,
            "fax": self.fax,
        }


class ContactsIn(_Input):
    registrant: ContactIn | None = None
    admin: ContactIn | None = None
    tech: ContactIn | None = None
    billing: ContactIn | None = None

    def core_roles(self) -> dict[str, dict[str, Any] | None]:
        """Role -> core fields; a role left out (or null) is None."""
        roles = {role: getattr(self, role) for role in ROLES}
        return {role: c.core_fields() if c is not None else None for role, c in roles.items()}


class SetContactsRequest(_Input):
    contacts: ContactsIn | None = None

    def core_roles(self) -> dict[str, dict[str, Any] | None]:
        return (self.contacts or ContactsIn()).core_roles()


class DomainCreateIn(_Input):
    domainName: str
    contacts: ContactsIn | None = None
    autorenewEnabled: bool | None = None
    privacyEnabled: bool | None = None
    locked: bool | None = None
    nameservers: list[str] | None = None
    # Read-only in name.com's Domain schema: accepted, ignored.
    createDate: Any = None
    expireDate: Any = None
    renewalPrice: Any = None


class CreateDomainRequest(_Input):
    domain: DomainCreateIn
    # Pricing and registry extras belong to the registry side of the registrar: accepted, ignored.
    purchasePrice: float | None = None
    purchaseType: str | None = None
    tldRequirements: dict[str, str] | None = None
    years: int | None = None

    def core_roles(self) -> dict[str, dict[str, Any] | None]:
        return (self.domain.contacts or ContactsIn()).core_roles()

    def settings(self) -> dict[str, Any]:
        domain = self.domain
        changes = {
            "autorenew": domain.autorenewEnabled,
            "privacy": domain.privacyEnabled,
            "locked": domain.locked,
            "nameservers": domain.nameservers,
        }
        return {key: value for key, value in changes.items() if value is not None}


class UpdateDomainRequest(_Input):
    autorenewEnabled: bool | None = None
    privacyEnabled: bool | None = None
    locked: bool | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> UpdateDomainRequest:
        if self.autorenewEnabled is None and self.privacyEnabled is None and self.locked is None:
            raise PydanticCustomError(
                "at_least_one", "send at least one of autorenewEnabled, privacyEnabled, locked"
            )
        return self

    def changes(self) -> dict[str, bool]:
        changes = {
            "autorenew": self.autorenewEnabled,
            "privacy": self.privacyEnabled,
            "locked": self.locked,
        }
        return {key: value for key, value in changes.items() if value is not None}


class ContactOut(BaseModel):
    """A role's contact as name.com shows it; unset optional fields are null."""

    firstName: str
    lastName: str
    companyName: str | None
    address1: str
    address2: str | None
    city: str
    state: str | None
    zip: str
    country: str
    email: str
    phone: str
    fax: str | None
    isVerified: bool

    @classmethod
    def of(cls, contact: Contact) -> ContactOut:
        return cls(
            firstName=contact.first_name,
            lastName=contact.last_name,
            companyName=contact.company_name,
            address1=compose_address1(
                contact.address_street, contact.address_house_number, contact.address_country_code
            ),
            address2=contact.address_line2,
            city=contact.address_city,
            state=contact.address_state,
            zip=contact.address_postal_code,
            country=contact.address_country_code,
            email=contact.email,
            phone=contact.phone,
            fax=contact.fax,
            isVerified=contact.email_verified_at is not None,
        )


class DomainOut(BaseModel):
    """DomainResponsePayload: every field name.com's schema requires."""

    domainName: str
    createDate: str
    expireDate: str
    autorenewEnabled: bool
    locked: bool
    privacyEnabled: bool
    # admin, billing, registrant, tech; a role is left out (never null) when the account has
    # no contact at all to stand in for it.
    contacts: dict[str, ContactOut]
    nameservers: list[str]
    renewalPrice: float

    @classmethod
    def of(cls, view: DomainView) -> DomainOut:
        domain = view.domain
        price = renewal_price(domain)
        contacts = {}
        for role in sorted(ROLES):
            contact = view.contact(role)
            if contact is not None:
                contacts[role] = ContactOut.of(contact)
        return cls(
            domainName=domain.name,
            createDate=timestamp(domain.created_at),
            expireDate=timestamp(domain.expires_at),
            autorenewEnabled=domain.autorenew,
            # A suspension and the lock after a change of registrant hold transfers too
            # (clientTransferProhibited): name.com shows a lock.
            locked=transfer_prohibited(domain),
            privacyEnabled=domain.privacy,
            contacts=contacts,
            nameservers=list(domain.nameservers),
            renewalPrice=float(price) if price is not None else 0.0,
        )


class DomainList(BaseModel):
    """ListDomainsResponse; nextPage and lastPage only when there is a next page."""

    domains: list[DomainOut]
    from_: int = Field(serialization_alias="from")
    to: int
    totalCount: int
    nextPage: int | None = None
    lastPage: int | None = None

    @classmethod
    def of(cls, page: Page[DomainView]) -> DomainList:
        """Render with ``exclude_unset``: the page fields are only set when there is a next page."""
        start, count = page.request.offset, len(page.items)
        result = cls(
            domains=[DomainOut.of(view) for view in page.items],
            from_=start + 1 if count else 0,
            to=start + count if count else 0,
            totalCount=page.total,
        )
        if page.request.page < page.last_page:
            result.nextPage = page.request.page + 1
            result.lastPage = page.last_page
        return result


class CreateDomainResponse(BaseModel):
    domain: DomainOut
    # nichandle keeps no orders and charges nothing: the order is the domain's id.
    order: int
    totalPaid: float

    @classmethod
    def of(cls, view: DomainView) -> CreateDomainResponse:
        return cls(domain=DomainOut.of(view), order=view.domain.id, totalPaid=0.0)


class UnverifiedContact(BaseModel):
    verificationId: int
    createDate: str
    verifyBy: str
    email: str
    domains: list[str]


class UnverifiedContactsResponse(BaseModel):
    """UnverifiedContactsResponse: a page of the account's open verifications."""

    unverifiedContacts: list[UnverifiedContact]
    from_: int = Field(serialization_alias="from")
    to: int
    lastPage: int
    nextPage: int | None
    totalCount: int

    @classmethod
    def of(
        cls, found: list[tuple[Verification, list[str]]], *, page: int, per_page: int
    ) -> UnverifiedContactsResponse:
        # Only verifications that concern a domain: name.com's domains has minItems 1.
        listed = [(v, names) for v, names in found if names]
        start = (page - 1) * per_page
        items = listed[start : start + per_page]
        last = max(1, -(-len(listed) // per_page))
        return cls(
            unverifiedContacts=[
                UnverifiedContact(
                    verificationId=v.id,
                    createDate=timestamp(v.created_at),
                    verifyBy=timestamp(v.deadline_at),
                    email=v.email,
                    domains=names,
                )
                for v, names in items
            ],
            from_=start + 1 if items else 0,
            to=start + len(items) if items else 0,
            lastPage=last,
            nextPage=page + 1 if page < last else None,
            totalCount=len(listed),
        )
