"""DNSimple API v2 shapes (fixtures under shared/reference/dnsimple), mapped to and from the core.

Keys are declared in the fixtures' order, since the wire shows them in that order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer

from nichandle.accounts.models import Account, User
from nichandle.contacts.addresses import compose_address1, street_fields
from nichandle.contacts.models import Contact
from nichandle.contacts.validation import TEXT_FIELDS
from nichandle.domains.models import DomainStatus
from nichandle.domains.names import to_unicode
from nichandle.domains.service import DomainView
from nichandle.domains.status import status_at
from nichandle.paging import Page


def wire_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# DNSimple timestamps: UTC, whole seconds, "Z" ("2016-01-19T20:50:26Z").
WireTime = Annotated[datetime, PlainSerializer(wire_time, return_type=str)]

# DNSimple's sortable contact fields (SortContacts in openapi.yml).
CONTACT_SORT_FIELDS = frozenset({"id", "label", "email"})
# A plan identifier for the Account shape, which requires one.
PLAN_IDENTIFIER = "nichandle"

# DNSimple contact field -> core field, for the fields whose names differ.
CORE_FIELDS = {
    "organization_name": "company_name",
    "address2": "address_line2",
    "city": "address_city",
    "state_province": "address_state",
    "postal_code": "address_postal_code",
    "country": "address_country_code",
}
# Core field -> DNSimple field, for error keys; address1 carries street and house number.
WIRE_FIELDS = {
    **{core: wire for wire, core in CORE_FIELDS.items()},
    "address_street": "address1",
    "address_house_number": "address1",
}


def wire_field(core: str) -> str:
    return WIRE_FIELDS.get(core, core)


class _Input(BaseModel):
    # Unknown fields are an error, never silently dropped; types are not coerced. null and ""
    # both mean "unset" (the official client never sends either: it drops falsy values).
    model_config = ConfigDict(extra="forbid", strict=True)

    label: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    organization_name: str | None = None
    email: str | None = None
    phone: str | None = None
    fax: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state_province: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def core_values(self) -> dict[str, Any]:
        """The fields sent, by core name; address1 becomes the street with no house number."""
        values: dict[str, Any] = {}
        for wire, value in self.model_dump(exclude_unset=True).items():
            if wire == "address1":
                values.update(street_fields(value))
            else:
                values[CORE_FIELDS.get(wire, wire)] = value
        return values

    def required_fields(self) -> tuple[str, ...]:
        """DNSimple requires a job title with an organization name (core names)."""
        return ("job_title",) if self.organization_name and self.organization_name.strip() else ()


class ContactCreate(_Input):
    """All fields of a new contact; missing required ones are reported together by the core."""

    def required_fields(self) -> tuple[str, ...]:
        # DNSimple documents state_province as required on create.
        return ("address_state", *super().required_fields())


class ContactUpdate(_Input):
    """Partial (PATCH): only the fields sent change; names and country may change too."""


def _text(value: str | None) -> str:
    return value or ""


class ContactRead(BaseModel):
    id: int
    account_id: int
    label: str
    first_name: str
    last_name: str
    job_title: str
    organization_name: str
    email: str
    phone: str
    fax: str
    address1: str
    address2: str
    city: str
    state_province: str
    postal_code: str
    country: str
    # Always set for a contact; an event's copy of one may not know them (webhook bodies).
    created_at: WireTime | None
    updated_at: WireTime | None

    @classmethod
    def of(cls, contact: Contact) -> ContactRead:
        fields = {name: getattr(contact, name) for name in TEXT_FIELDS}
        return cls.of_fields(
            fields,
            id=contact.id,
            account_id=contact.account_id,
            created_at=contact.created_at,
            updated_at=contact.updated_at,
        )

    @classmethod
    def of_fields(
        cls,
        fields: Mapping[str, Any],
        *,
        id: int,
        account_id: int,
        created_at: datetime | None,
        updated_at: datetime | None,
    ) -> ContactRead:
        """From the core's fields (a contact's, or an event's copy of one). Unset optional
        fields are "" (DNSimple never sends null for them)."""
        return cls(
            id=id,
            account_id=account_id,
            label=_text(fields["label"]),
            first_name=fields["first_name"],
            last_name=fields["last_name"],
            job_title=_text(fields["job_title"]),
            organization_name=_text(fields["company_name"]),
            email=fields["email"],
            phone=fields["phone"],
            fax=_text(fields["fax"]),
            address1=compose_address1(
                fields["address_street"],
                fields["address_house_number"],
                fields["address_country_code"],
            ),
            address2=_text(fields["address_line2"]),
            city=fields["address_city"],
            state_province=_text(fields["address_state"]),
            postal_code=fields["address_postal_code"],
            country=fields["address_country_code"],
            created_at=created_at,
            updated_at=updated_at,
        )


class ContactEnvelope(BaseModel):
    data: ContactRead


class Pagination(BaseModel):
    current_page: int
    per_page: int
    total_entries: int
    total_pages: int

    @classmethod
    def of(cls, page: Page[Any]) -> Pagination:
        return cls(
            current_page=page.request.page,
            per_page=page.request.per_page,
            total_entries=page.total,
            total_pages=page.last_page,
        )


class ContactPage(BaseModel):
    data: list[ContactRead]
    pagination: Pagination


class AccountRead(BaseModel):
    id: int
    email: str
    name: str
    plan_identifier: str
    created_at: WireTime
    updated_at: WireTime

    @classmethod
    def of(cls, account: Account, email: str) -> AccountRead:
        # Accounts keep no modification time; they change only by being created.
        return cls(
            id=account.id,
            email=email,
            name=account.name,
            plan_identifier=PLAN_IDENTIFIER,
            created_at=account.created_at,
            updated_at=account.created_at,
        )


class AccountsEnvelope(BaseModel):
    data: list[AccountRead]


class UserRead(BaseModel):
    id: int
    email: str
    created_at: WireTime
    updated_at: WireTime

    @classmethod
    def of(cls, user: User) -> UserRead:
        return cls(
            id=user.id, email=user.email, created_at=user.created_at, updated_at=user.created_at
        )


class Whoami(BaseModel):
    # Both keys always present, exactly one of them null (the client reads both).
    user: UserRead | None
    account: AccountRead | None


class WhoamiEnvelope(BaseModel):
    data: Whoami


# DNSimple's three words, and "suspended", which its spec's enum lacks: registrant verification
# (issue 12) asks the state to show a suspension, and there is no other field for it.
DomainState = Literal["hosted", "registered", "expired", "suspended"]
STATES: dict[DomainStatus, DomainState] = {
    DomainStatus.REGISTERED: "registered",
    DomainStatus.SUSPENDED: "suspended",
    DomainStatus.EXPIRED: "expired",
}


def domain_state(status: DomainStatus) -> DomainState:
    return STATES[status]


def _wire_date(value: date) -> str:
    return value.isoformat()


class DomainRead(BaseModel):
    id: int
    account_id: int
    registrant_id: int | None
    name: str
    unicode_name: str
    state: DomainState
    auto_renew: bool
    private_whois: bool
    trustee: bool
    expires_on: Annotated[date, PlainSerializer(_wire_date, return_type=str)]
    expires_at: WireTime
    created_at: WireTime
    updated_at: WireTime

    @classmethod
    def of(cls, view: DomainView) -> DomainRead:
        """registrant_id is the contact the registrant role resolves to (the default too)."""
        domain = view.domain
        registrant = view.contact("registrant")
        return cls(
            id=domain.id,
            account_id=domain.account_id,
            registrant_id=registrant.id if registrant else None,
            name=domain.name,
            unicode_name=to_unicode(domain.name),
            state=domain_state(status_at(domain)),
            auto_renew=domain.autorenew,
            private_whois=domain.privacy,
            trustee=False,
            expires_on=domain.expires_at.astimezone(UTC).date(),
            expires_at=domain.expires_at,
            created_at=domain.created_at,
            updated_at=domain.updated_at,
        )


class DomainEnvelope(BaseModel):
    data: DomainRead


class DomainPage(BaseModel):
    data: list[DomainRead]
    pagination: Pagination
