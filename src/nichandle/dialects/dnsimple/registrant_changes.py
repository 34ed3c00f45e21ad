"""DNSimple's registrant changes, /v2/{account}/registrar/registrant_changes: start one (201
applied, 202 pending), check one, list, read and cancel them. The rules are the change-of-
registrant policy's (registrant_changes/); here only DNSimple's shapes and words.

DNSimple's states from ours: a pending change nobody confirmed yet is ``new``, one a party
confirmed is ``pending``, an applied one ``completed``, a cancelled or expired one
``cancelled``. ``contact_id`` is the new registrant; ``irt_lock_lifted_by`` the day the 60-day
transfer lock ends (null without one); ``registry_owner_change`` whether it is a change of
registrant (a contact with another name, organisation or email). docs/registrant-change.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.contacts import service as contacts
from nichandle.contacts.models import Contact
from nichandle.contacts.service import ContactRef
from nichandle.dialects.deps import ReadSession, WriteSession
from nichandle.dialects.dnsimple.routes import DEFAULT_PER_PAGE, ActorDep
from nichandle.dialects.dnsimple.schemas import Pagination, WireTime
from nichandle.domains import service as domains
from nichandle.errors import FieldErrors
from nichandle.paging import Page, page_request
from nichandle.registrant_changes import service
from nichandle.registrant_changes.models import (
    ChangeState,
    RegistrantChange,
    RegistrantChangeRequest,
)
from nichandle.registrant_changes.repository import ChangeFilter

router = APIRouter(prefix="/v2", tags=["dnsimple"])

DnsimpleState = Literal["new", "pending", "completed", "cancelling", "cancelled"]
# DNSimple's states -> ours, and whether a party confirmed ("new": none yet): both how a change
# reads and what the list's state filter selects.
STATE_FILTERS: dict[DnsimpleState, tuple[tuple[ChangeState, ...], bool | None]] = {
    "new": ((ChangeState.PENDING,), False),
    "pending": ((ChangeState.PENDING,), True),
    "completed": ((ChangeState.APPLIED,), None),
    "cancelling": ((), None),  # ours cancel at once: never cancelling
    "cancelled": ((ChangeState.CANCELLED, ChangeState.EXPIRED), None),
}
WireDate = Annotated[date, PlainSerializer(date.isoformat, return_type=str)]


def dnsimple_state(change: RegistrantChange, request: RegistrantChangeRequest) -> DnsimpleState:
    confirmed = bool(request.prior_confirmed_at or request.new_confirmed_at)
    return next(
        name
        for name, (states, by_a_party) in STATE_FILTERS.items()
        if change.state in states and by_a_party in (None, confirmed)
    )


class RegistrantChangeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain_id: int | str
    contact_id: int | str
    extended_attributes: dict[str, str] = Field(default_factory=dict)


class RegistrantChangeCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain_id: int | str
    contact_id: int | str


class RegistrantChangeRead(BaseModel):
    id: int
    account_id: int
    domain_id: int
    contact_id: int
    state: DnsimpleState
    extended_attributes: dict[str, str]
    registry_owner_change: bool
    irt_lock_lifted_by: WireDate | None
    created_at: WireTime
    updated_at: WireTime

    @classmethod
    def of(cls, change: RegistrantChange, request: RegistrantChangeRequest) -> RegistrantChangeRead:
        lock = change.transfer_lock_until
        return cls(
            id=change.id,
            account_id=change.account_id,
            domain_id=change.domain_id,
            contact_id=change.new_contact_id,
            state=dnsimple_state(change, request),
            extended_attributes={},
            registry_owner_change=bool(change.fields),
            irt_lock_lifted_by=lock.date() if lock is not None else None,
            created_at=change.created_at,
            updated_at=change.updated_at,
        )


class RegistrantChangeEnvelope(BaseModel):
    data: RegistrantChangeRead


class RegistrantChangePage(BaseModel):
    data: list[RegistrantChangeRead]
    pagination: Pagination


class RegistrantChangeCheck(BaseModel):
    domain_id: int
    contact_id: int
    # What the registry asks beyond the contact (DNSimple's TLD extended attributes): none here.
    extended_attributes: list[dict[str, Any]]
    registry_owner_change: bool


class RegistrantChangeCheckEnvelope(BaseModel):
    data: RegistrantChangeCheck


async def _reads(
    session: AsyncSession, changes: Sequence[RegistrantChange]
) -> list[RegistrantChangeRead]:
    requests = await service.requests_of(session, changes)
    return [RegistrantChangeRead.of(c, requests[c.request_id]) for c in changes]


async def _contact(session: AsyncSession, account_id: int, contact_id: int | str) -> Contact:
    return await contacts.get_contact(session, account_id, ContactRef(id=str(contact_id)))


@router.get("/{account}/registrar/registrant_changes", response_model=RegistrantChangePage)
async def list_registrant_changes(
    session: ReadSession,
    actor: ActorDep,
    state: str | None = None,
    domain_id: str | None = None,
    contact_id: str | None = None,
    sort: str | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> RegistrantChangePage:
    """The account's registrant changes (filters state, domain_id, contact_id; sort id:asc or
    id:desc, default id:asc)."""
    if state is not None and state not in STATE_FILTERS:
        raise FieldErrors.single("state", "invalid", f"must be one of {', '.join(STATE_FILTERS)}")
    if sort not in (None, "id:asc", "id:desc"):
        raise FieldErrors.single("sort", "invalid", "must be id:asc or id:desc")
    states, confirmed = STATE_FILTERS[state] if state else ((), None)
    where = ChangeFilter(states=states, confirmed=confirmed, ascending=sort != "id:desc")
    request = page_request(page, per_page)
    nothing = Page[RegistrantChange](items=[], total=0, request=request)
    if state == "cancelling" or (domain_id is not None and not domain_id.isdigit()):
        return RegistrantChangePage(data=[], pagination=Pagination.of(nothing))
    if domain_id is not None:
        where = replace(where, domain_id=int(domain_id))
    if contact_id is not None:
        found = await contacts.find_contact(session, actor.account_id, ContactRef(id=contact_id))
        if found is None:
            return RegistrantChangePage(data=[], pagination=Pagination.of(nothing))
        where = replace(where, new_contact_id=found.id)
    result = await service.list_changes(session, actor.account_id, where, request)
    return RegistrantChangePage(
        data=await _reads(session, result.items), pagination=Pagination.of(result)
    )


@router.post(
    "/{account}/registrar/registrant_changes",
    response_model=RegistrantChangeEnvelope,
    status_code=status.HTTP_202_ACCEPTED,
    responses={201: {"model": RegistrantChangeEnvelope}},
)
async def create_registrant_change(
    body: RegistrantChangeCreate, session: WriteSession, actor: ActorDep, response: Response
) -> RegistrantChangeEnvelope:
    """Point a domain's registrant at a contact: 202 while it waits for both registrants'
    confirmation (cor-2024), 201 when it applied at once."""
    contact = await _contact(session, actor.account_id, body.contact_id)
    change = await service.change_registrant(session, actor, str(body.domain_id), contact)
    if change.state is not ChangeState.PENDING:
        response.status_code = status.HTTP_201_CREATED
    [read] = await _reads(session, [change])
    return RegistrantChangeEnvelope(data=read)


@router.post(
    "/{account}/registrar/registrant_changes/check",
    response_model=RegistrantChangeCheckEnvelope,
)
async def check_registrant_change(
    body: RegistrantChangeCheckRequest, session: ReadSession, actor: ActorDep
) -> RegistrantChangeCheckEnvelope:
    """Whether pointing the domain's registrant at the contact is a change of registrant."""
    domain = await domains.get_domain_by_name_or_id(session, actor.account_id, str(body.domain_id))
    contact = await _contact(session, actor.account_id, body.contact_id)
    found = await service.check(session, actor.account_id, domain.domain.name, contact)
    return RegistrantChangeCheckEnvelope(
        data=RegistrantChangeCheck(
            domain_id=found.domain.id,
            contact_id=found.contact.id,
            extended_attributes=[],
            registry_owner_change=bool(found.fields),
        )
    )


@router.get(
    "/{account}/registrar/registrant_changes/{registrantchange}",
    response_model=RegistrantChangeEnvelope,
)
async def get_registrant_change(
    registrantchange: str, session: ReadSession, actor: ActorDep
) -> RegistrantChangeEnvelope:
    change = await service.get_change(session, actor.account_id, registrantchange)
    [read] = await _reads(session, [change])
    return RegistrantChangeEnvelope(data=read)


@router.delete(
    "/{account}/registrar/registrant_changes/{registrantchange}",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def delete_registrant_change(
    registrantchange: str, session: WriteSession, actor: ActorDep
) -> Response:
    """Cancel a pending registrant change (at once: 204)."""
    await service.cancel(session, actor, registrantchange)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
