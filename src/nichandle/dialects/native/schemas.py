"""Domain Chief's contact shapes (seed 001), mapped to and from the core."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import URL, QueryParams

from nichandle.contacts.models import Contact
from nichandle.history.models import ContactVersion
from nichandle.paging import Page


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
    """Partial: only the fields sent change. Name, company and country are refused."""

    def core_changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class ContactListRequest(_Input):
    contacts: list[str] = Field(max_length=100)
    expand: list[str] = Field(default_factory=list)


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
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, contact: Contact, expand: frozenset[str] = frozenset()) -> ContactRead:
        """The parent is shown as its handle, or embedded whole with expand[]=parent."""
        data = {name: getattr(contact, name) for name in _CONTACT_COLUMNS}
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


def page_links(url: URL, page: Page[Any]) -> tuple[Links, PageMeta]:
    current, last = page.request.page, page.last_page

    def at(number: int) -> str:
        return str(url.include_query_params(page=number, per_page=page.request.per_page))

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
    """``metadata[key]=value`` query parameters -> {key: value}."""
    filters = {}
    for name, value in params.multi_items():
        if name.startswith("metadata[") and name.endswith("]"):
            filters[name[len("metadata[") : -1]] = value
    return filters


def expansions(values: list[str] | None) -> frozenset[str]:
    """``expand[]`` values; unknown ones are ignored, like unknown sort fields."""
    return frozenset(v.strip().lower() for v in values or [])
