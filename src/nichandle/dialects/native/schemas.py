"""Domain Chief's contact shapes (seed 001), mapped to and from the core."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from starlette.datastructures import URL, QueryParams

from nichandle.certificates.models import Certificate, CertificateState
from nichandle.contacts.metadata import MAX_KEYS as MAX_METADATA_KEYS
from nichandle.contacts.models import Contact
from nichandle.domains.names import to_unicode
from nichandle.domains.reassign import MAX_DOMAINS as MAX_REASSIGN_DOMAINS
from nichandle.domains.reassign import Reassignment
from nichandle.domains.service import DomainsUsing, DomainView, renewal_price
from nichandle.domains.status import status_at, transfer_prohibited
from nichandle.errors import FieldErrors
from nichandle.history.models import ContactVersion
from nichandle.paging import Page
from nichandle.registrant_changes.models import (
    ChangeState,
    RegistrantChange,
    RegistrantChangeRequest,
)
from nichandle.verification.models import Verification, VerificationEntry

# Timestamps arrive as ISO 8601 strings, which strict mode would refuse.
WireDatetime = Annotated[datetime, Field(strict=False)]


class _Input(BaseModel):
    # Unknown fields are an error, never silently dropped; types are not coerced.
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class _ContactFields(_Input):
    label: str | None = None
    job_title: str | None = None
    company_registration_number: str | None = None
    company_trading_name: str | None = None
    company_url: str | None = None
    vat_registration: str | None = None
    address_street: str | None = None
    address_house_number: str | None = None
    address_line2: str | None = None
    address_postal_code: str | None = None
    address_city: str | None = None
    address_state: str | None = None
    email: str | None = None
    phone: str | None = None
    fax: str | None = None
    is_default: bool | None = None
    parent_handle: str | None = None
    extension_data: dict[str, Any] | None = None
    # Values are checked by the metadata rules, so their errors name the key.
    metadata: dict[str, Any] | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    address_country_code: str | None = None


class ContactCreate(_ContactFields):
    # Required fields are checked by the contact rules, all at once, with one wording.
    allow_duplicate: bool = False

    def core_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"allow_duplicate"})


class ContactUpdate(_ContactFields):
    """Partial: only the fields sent change. Name, company and country are refused, but for a
    name or company typo fix declared with ``typo_correction`` (docs/registrant-change.md)."""

    typo_correction: bool = Field(
        default=False,
        description="The name/company change is a typo fix, so no change of registrant: at "
        "most 2 edits and a third of each field, with no address or phone change "
        "(docs/registrant-change.md). Not stored.",
    )

    def core_changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"typo_correction"})


class ContactListRequest(_Input):
    contacts: list[str] = Field(max_length=100)
    expand: list[str] = Field(default_factory=list)


class ErrorRead(BaseModel):
    """The native error envelope (400, 401, 404, 409, 413)."""

    message: str


class FieldErrorsRead(ErrorRead):
    """A 422: every field problem at once, keyed by the wire field name."""

    errors: dict[str, list[str]]


class ContactRead(BaseModel):
    handle: str
    label: str | None
    first_name: str
    last_name: str
    company_name: str | None
    company_registration_number: str | None
    company_trading_name: str | None
    company_url: str | None
    vat_registration: str | None
    job_title: str | None
    address_street: str
    address_house_number: str | None
    address_line2: str | None
    address_postal_code: str
    address_city: str
    address_state: str | None
    address_country_code: str
    email: str
    phone: str
    fax: str | None
    is_default: bool
    parent: str | ContactRead | None
    extension_data: dict[str, Any]
    metadata: dict[str, str]
    # When the account verified this email (registrant verification); null until then.
    email_verified_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, contact: Contact, expand: frozenset[str] = frozenset()) -> ContactRead:
        """The parent is shown as its handle, or embedded whole with expand[]=parent."""
        data = contact.values_of(_CONTACT_COLUMNS)
        data["metadata"] = contact.metadata_
        parent = contact.parent
        if parent is None:
            data["parent"] = None
        else:
            data["parent"] = cls.of(parent) if "parent" in expand else parent.handle
        return cls.model_validate(data)


_CONTACT_COLUMNS = tuple(
    name for name in ContactRead.model_fields if name not in ("parent", "metadata")
)


class ContactEnvelope(BaseModel):
    data: ContactRead


class ContactsEnvelope(BaseModel):
    data: list[ContactRead]


class Links(BaseModel):
    first: str
    last: str
    prev: str | None
    next: str | None


class PageMeta(BaseModel):
    current_page: int
    last_page: int
    per_page: int
    total: int


class ContactPage(BaseModel):
    data: list[ContactRead]
    links: Links
    meta: PageMeta


class VersionRead(BaseModel):
    id: int
    action: str
    dialect: str
    actor_token_id: int | None
    created_at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, version: ContactVersion) -> VersionRead:
        return cls.model_validate(version, from_attributes=True)


class VersionPage(BaseModel):
    data: list[VersionRead]
    links: Links
    meta: PageMeta


_PAGING = frozenset({"page", "per_page"})


def page_links(url: URL, page: Page[Any], public_url: str | None) -> tuple[Links, PageMeta]:
    """Links to the request's path on ``public_url``; relative (``/api/v1/...?page=2``) without
    one, because the scheme and host of ``url`` are whatever the client's Host header said."""
    current, last, per_page = page.request.page, page.last_page, page.request.per_page
    # The request's URL with its page and per_page replaced (appended last, as Starlette's
    # include_query_params does), the query parsed once for the four links rather than four
    # times (43 -> 18 us a page).
    kept = [(k, v) for k, v in parse_qsl(url.query, keep_blank_values=True) if k not in _PAGING]
    base = f"{public_url or ''}{url.path}"

    def at(number: int) -> str:
        return f"{base}?{urlencode([*kept, ('page', number), ('per_page', per_page)])}"

    links = Links(
        first=at(1),
        last=at(last),
        prev=at(current - 1) if current > 1 else None,
        next=at(current + 1) if current < last else None,
    )
    meta = PageMeta(
        current_page=current, last_page=last, per_page=page.request.per_page, total=page.total
    )
    return links, meta


def metadata_filters(params: QueryParams) -> dict[str, str]:
    """``metadata[key]=value`` query parameters -> {key: value} (a repeated key: its last value).

    At most MAX_KEYS distinct keys: no contact holds more, so more filters could match nothing,
    and each is a condition of its own in the query (1,000 of them overflowed SQLite's).
    """
    filters = {}
    for name, value in params.multi_items():
        if name.startswith("metadata[") and name.endswith("]"):
            filters[name[len("metadata[") : -1]] = value
    if len(filters) > MAX_METADATA_KEYS:
        raise FieldErrors.single(
            "metadata", "invalid", f"can filter on at most {MAX_METADATA_KEYS} keys at once"
        )
    return filters


def expansions(values: list[str] | None) -> frozenset[str]:
    """``expand[]`` values; unknown ones are ignored, like unknown sort fields."""
    return frozenset(v.strip().lower() for v in values or [])


# Domains and certificates

# The native wire calls the registrant "owner".
WIRE_ROLES = {"owner": "registrant", "admin": "admin", "tech": "tech", "billing": "billing"}
CORE_ROLES = {core: wire for wire, core in WIRE_ROLES.items()}


def core_roles(contacts: Mapping[str, str]) -> dict[str, str]:
    """Wire role keys -> core roles; unknown role keys are ignored."""
    return {WIRE_ROLES[role]: handle for role, handle in contacts.items() if role in WIRE_ROLES}


def wire_field(field: str) -> str:
    """Core error keys -> native ones (``contacts.registrant`` -> ``contacts.owner``)."""
    head, _, rest = field.partition(".")
    if head == "contacts" and rest in CORE_ROLES:
        return f"contacts.{CORE_ROLES[rest]}"
    return field


class DomainCreate(_Input):
    name: str
    contacts: dict[str, str] = Field(default_factory=dict)
    nameservers: list[str] | None = None
    expires_at: WireDatetime | None = None
    autorenew: bool | None = None
    privacy: bool | None = None
    locked: bool | None = None
    renewal_price: float | None = None

    def settings(self) -> dict[str, Any]:
        return self.model_dump(exclude={"name", "contacts"}, exclude_none=True)


class DomainUpdate(_Input):
    contacts: dict[str, str] | None = None
    nameservers: list[str] | None = None
    expires_at: WireDatetime | None = None
    autorenew: bool | None = None
    privacy: bool | None = None
    is_whois_privacy_enabled: bool | None = None
    locked: bool | None = None
    renewal_price: float | None = None
    dispute_hold: bool | None = Field(
        default=None, description="Staff's hold: while true, the registrant can't change."
    )
    transfer_lock_opt_out: bool | None = Field(
        default=None,
        description="The registrant's opt-out of the 60-day transfer lock after a change of "
        "registrant (kept with its time and who set it).",
    )

    @field_validator("is_whois_privacy_enabled")
    @classmethod
    def _not_with_contacts(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        # Domain Chief: privacy and contacts cannot change in one request.
        if value is not None and info.data.get("contacts") is not None:
            raise ValueError("can't be changed together with contacts; send two requests")
        return value

    def settings(self) -> dict[str, Any]:
        changes = self.model_dump(
            exclude={"contacts", "is_whois_privacy_enabled"}, exclude_unset=True
        )
        if self.is_whois_privacy_enabled is not None:
            changes["privacy"] = self.is_whois_privacy_enabled
        return changes


class NoticeAction(BaseModel):
    code: str
    method: str | None = None
    href: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Notice(BaseModel):
    """Something the domain's owner has to do or know, as Domain Chief shapes it."""

    code: str
    type: str
    severity: str
    message: str
    data: dict[str, Any]
    actions: list[NoticeAction]


def registrant_change_notice(
    change: RegistrantChange, request: RegistrantChangeRequest, base_url: str
) -> Notice:
    """A pending change of registrant: the domain shows its prior registrant until both
    parties confirm; it can be read or cancelled."""
    at = f"{base_url}/api/v1/registrant-changes/{change.id}"
    expires = request.expires_at.isoformat().replace("+00:00", "Z") if request.expires_at else None
    return Notice(
        code="domain.registrant_change.pending",
        type="info",
        severity="warning",
        message=f"A change of registrant to `{change.new_handle}` waits for both registrants' "
        f"confirmation until {expires}",
        data={
            "registrant_change_id": change.id,
            "new_contact": change.new_handle,
            "fields": list(change.fields),
            "expires_at": expires,
            "confirmed": {
                "prior": request.prior_confirmed_at is not None,
                "new": request.new_confirmed_at is not None,
            },
        },
        actions=[
            NoticeAction(code="domain.registrant_change.open", data={"registrant_change_url": at}),
            NoticeAction(code="domain.registrant_change.cancel", method="DELETE", href=at),
        ],
    )


def verification_notice(name: str, verification: Verification, base_url: str) -> Notice:
    """The registrant verification a domain waits for: open its status, or resend the mail."""
    at = f"{base_url}/api/v1/domains/{name}/contact-verification"
    deadline = verification.deadline_at.isoformat().replace("+00:00", "Z")
    if verification.suspended_at is not None:
        message = f"The registrant email {verification.email} is not verified: suspended"
    else:
        message = f"The registrant email {verification.email} must be verified by {deadline}"
    return Notice(
        code="domain.contact_verification.required",
        type="action_required",
        severity="warning",
        message=message,
        data={
            "email": verification.email,
            "verify_by": deadline,
            "bounced": verification.bounced_at is not None,
            "bounce_reason": verification.bounce_reason,
        },
        actions=[
            NoticeAction(
                code="domain.contact_verification.open",
                data={"contact_verification_url": at},
            ),
            NoticeAction(
                code="domain.contact_verification.resend", method="POST", href=f"{at}/resend"
            ),
        ],
    )


class ContactVerificationRead(BaseModel):
    id: int
    email: str
    state: str
    reason: str
    created_at: datetime
    verify_by: datetime
    reminders_sent: int
    last_mail_at: datetime | None
    suspended_at: datetime | None
    bounced_at: datetime | None
    bounce_reason: str | None
    domains: list[str]

    @classmethod
    def of(cls, verification: Verification, domains: list[str]) -> ContactVerificationRead:
        return cls(
            id=verification.id,
            email=verification.email,
            state=verification.state.value,
            reason=verification.reason.value,
            created_at=verification.created_at,
            verify_by=verification.deadline_at,
            reminders_sent=verification.reminders_sent,
            last_mail_at=verification.last_mail_at,
            suspended_at=verification.suspended_at,
            bounced_at=verification.bounced_at,
            bounce_reason=verification.bounce_reason,
            domains=domains,
        )


class ContactVerificationEnvelope(BaseModel):
    data: ContactVerificationRead


class VerificationEntryRead(BaseModel):
    verification_id: int
    kind: str  # sent, reminded, verified, suspended, unsuspended, bounced
    channel: str  # mail, log, link, api, worker
    domain: str | None
    created_at: datetime

    @classmethod
    def of(cls, entry: VerificationEntry) -> VerificationEntryRead:
        return cls(
            verification_id=entry.verification_id,
            kind=entry.kind.value,
            channel=entry.channel,
            domain=entry.domain_name,
            created_at=entry.created_at,
        )


class VerificationEntryPage(BaseModel):
    data: list[VerificationEntryRead]
    links: Links
    meta: PageMeta


class ConfirmationRead(BaseModel):
    confirmed_at: datetime | None
    by: str | None = Field(description="link, or agent:ID (a Designated Agent)")


class RegistrantChangeRead(BaseModel):
    id: int
    domain: str
    state: ChangeState
    policy: str
    prior_contact: str | None
    new_contact: str
    fields: list[str]
    created_at: datetime
    expires_at: datetime | None
    applied_at: datetime | None
    ended_at: datetime | None
    transfer_lock_until: datetime | None
    confirmations: dict[str, ConfirmationRead]
    designated_agent_id: int | None

    @classmethod
    def of(cls, change: RegistrantChange, request: RegistrantChangeRequest) -> RegistrantChangeRead:
        return cls(
            id=change.id,
            domain=change.domain_name,
            state=change.state,
            policy=change.policy.value,
            prior_contact=change.prior_handle,
            new_contact=change.new_handle,
            fields=list(change.fields),
            created_at=change.created_at,
            expires_at=request.expires_at if change.state is ChangeState.PENDING else None,
            applied_at=change.applied_at,
            ended_at=change.ended_at,
            transfer_lock_until=change.transfer_lock_until,
            confirmations={
                "prior": ConfirmationRead(
                    confirmed_at=request.prior_confirmed_at, by=request.prior_confirmed_by
                ),
                "new": ConfirmationRead(
                    confirmed_at=request.new_confirmed_at, by=request.new_confirmed_by
                ),
            },
            designated_agent_id=request.designated_agent_id,
        )


class ContactPendingEnvelope(BaseModel):
    """A contact edit that started changes of registrant (202): the contact as it is now, and
    the pending changes, whose domains keep their prior registrant until both confirm."""

    data: ContactRead
    registrant_changes: list[RegistrantChangeRead]


class DomainRead(BaseModel):
    name: str
    unicode_name: str
    tld: str
    status: str
    autorenew: bool
    locked: bool
    privacy: bool
    nameservers: list[str]
    renewal_price: float | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    transfer_lock_until: datetime | None
    transfer_lock_opt_out: bool
    # Whether a transfer to another registrar is refused now: ``locked``, a suspension, or the
    # lock after a change of registrant until ``transfer_lock_until``.
    transfer_prohibited: bool
    dispute_hold: bool
    contacts: dict[str, str | ContactRead | None]
    notices: list[Notice] = Field(default_factory=list)

    @classmethod
    def of(
        cls,
        view: DomainView,
        expand: frozenset[str] = frozenset(),
        notices: list[Notice] | None = None,
    ) -> DomainRead:
        domain = view.domain
        price = renewal_price(domain)
        contacts: dict[str, str | ContactRead | None] = {}
        for core, wire in CORE_ROLES.items():
            contact = view.contact(core)
            if contact is None:
                contacts[wire] = None
            else:
                contacts[wire] = ContactRead.of(contact) if "contacts" in expand else contact.handle
        return cls(
            name=domain.name,
            unicode_name=to_unicode(domain.name),
            tld=domain.tld,
            status=status_at(domain),
            autorenew=domain.autorenew,
            locked=domain.locked,
            privacy=domain.privacy,
            nameservers=domain.nameservers,
            renewal_price=float(price) if price is not None else None,
            created_at=domain.created_at,
            updated_at=domain.updated_at,
            expires_at=domain.expires_at,
            transfer_lock_until=domain.transfer_lock_until,
            transfer_lock_opt_out=domain.transfer_lock_opt_out,
            transfer_prohibited=transfer_prohibited(domain),
            dispute_hold=domain.dispute_hold,
            contacts=contacts,
            notices=notices or [],
        )


class DomainEnvelope(BaseModel):
    data: DomainRead


class DomainPage(BaseModel):
    data: list[DomainRead]
    links: Links
    meta: PageMeta


class CertificateCreate(_Input):
    common_name: str
    contact: str | None = None
    state: CertificateState = CertificateState.ISSUED
    expires_at: WireDatetime | None = None


class CertificateRead(BaseModel):
    id: int
    common_name: str
    contact: str
    state: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, certificate: Certificate) -> CertificateRead:
        return cls(
            id=certificate.id,
            common_name=certificate.common_name,
            contact=certificate.contact.handle,
            state=certificate.state,
            created_at=certificate.created_at,
            updated_at=certificate.updated_at,
            expires_at=certificate.expires_at,
        )


class CertificateEnvelope(BaseModel):
    data: CertificateRead


class CertificatePage(BaseModel):
    data: list[CertificateRead]
    links: Links
    meta: PageMeta


class ContactDomainUse(BaseModel):
    name: str
    roles: list[str]


class ContactWithUsage(ContactRead):
    """A contact with expand[]=domains / expand[]=certificates: what uses it, at most
    domains.service.USAGE_LIMIT domains and paging.MAX_PER_PAGE certificates; ``more_domains``
    / ``more_certificates`` link to the whole filtered list when there are more."""

    domains: list[ContactDomainUse] | None = None
    more_domains: str | None = None
    certificates: list[CertificateRead] | None = None
    more_certificates: str | None = None

    @classmethod
    def with_usage(
        cls,
        contact: Contact,
        expand: frozenset[str],
        *,
        domains: DomainsUsing | None,
        certificates: Page[Certificate] | None,
        list_url: Callable[[str], str],
    ) -> ContactWithUsage:
        read = cls.model_validate(ContactRead.of(contact, expand).model_dump())
        if domains is not None:
            read.domains = [
                ContactDomainUse(name=name, roles=[CORE_ROLES[r] for r in roles])
                for name, roles in domains.domains
            ]
            if domains.more:
                read.more_domains = list_url("domains")
        if certificates is not None:
            read.certificates = [CertificateRead.of(c) for c in certificates.items]
            if certificates.total > len(certificates.items):
                read.more_certificates = list_url("certificates")
        return read


class ContactUsageEnvelope(BaseModel):
    data: ContactWithUsage


# Reassigning a contact (POST /api/v1/contacts/{handle}/reassign)

WireRole = Literal["owner", "admin", "tech", "billing"]  # WIRE_ROLES' keys


class ContactReassign(_Input):
    """Replace the contact in the path by ``to`` in ``roles`` (default all four) of every
    domain whose roles name it, or of the ``domains`` listed; ``dry_run`` only previews."""

    to: str
    roles: list[WireRole] | None = None
    domains: list[str] | None = Field(default=None, max_length=MAX_REASSIGN_DOMAINS)
    dry_run: bool = False

    def core_roles(self) -> list[str] | None:
        return None if self.roles is None else [WIRE_ROLES[role] for role in self.roles]


class ReassignedDomain(BaseModel):
    name: str
    unicode_name: str
    # The roles moved (dry run: that would move) to the new contact.
    roles: list[str]


class ReassignmentRead(BaseModel):
    """What a reassign changed (``dry_run``: would change). Only roles that name the contact
    move; ``default_fallback`` counts the domains where one of the roles is unset and falls
    back to it as the team's default: those are left as they are."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    dry_run: bool
    roles: list[str]
    domains: list[ReassignedDomain]
    count: int
    # Domains listed in the request where the contact holds none of the roles.
    unchanged: list[str]
    default_fallback: int
    # Domains whose registrant change waits for both registrants' confirmation (cor-2024): the
    # owner role is not moved there yet (GET /api/v1/registrant-changes?contact=... lists them).
    pending_registrant_changes: list[str]

    @classmethod
    def of(cls, result: Reassignment) -> ReassignmentRead:
        return cls(
            from_=result.from_handle,
            to=result.to_handle,
            dry_run=result.dry_run,
            roles=[CORE_ROLES[role] for role in result.roles],
            domains=[
                ReassignedDomain(
                    name=name, unicode_name=to_unicode(name), roles=[CORE_ROLES[r] for r in roles]
                )
                for name, roles in result.domains
            ],
            count=len(result.domains),
            unchanged=result.unchanged,
            default_fallback=result.default_fallback,
            pending_registrant_changes=result.pending_registrant,
        )


class ReassignmentEnvelope(BaseModel):
    data: ReassignmentRead
