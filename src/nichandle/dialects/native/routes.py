"""The native contacts API, /api/v1 (Domain Chief's contacts API, seed 001)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from nichandle.accounts.service import Actor
from nichandle.contacts import service as contacts
from nichandle.dialects.deps import SessionDep, SettingsDep, authenticate_request, bearer_secret
from nichandle.dialects.native.schemas import (
    ContactCreate,
    ContactEnvelope,
    ContactListRequest,
    ContactPage,
    ContactRead,
    ContactsEnvelope,
    ContactUpdate,
    VersionPage,
    VersionRead,
    expansions,
    metadata_filters,
    page_links,
)
from nichandle.history.service import contact_history
from nichandle.paging import page_request

DIALECT = "native"


async def native_actor(
    request: Request,
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
    x_team: Annotated[str | None, Header()] = None,
) -> Actor:
    """Bearer token; personal tokens choose the team with X-Team: <id|slug>."""
    auth = await authenticate_request(request, session, bearer_secret(authorization), team=x_team)
    return Actor(account_id=auth.account.id, token_id=auth.token.id, dialect=DIALECT)


ActorDep = Annotated[Actor, Depends(native_actor)]
Expand = Annotated[list[str] | None, Query(alias="expand[]")]

router = APIRouter(prefix="/api/v1", tags=["contacts"])


@router.get("/contacts", response_model=ContactPage)
async def list_contacts(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    query: str | None = None,
    parent_handle: str | None = None,
    sort: str | None = None,
    page: int = 1,
    per_page: int | None = None,
    expand: Expand = None,
) -> ContactPage:
    """List the team's contacts."""
    result = await contacts.list_contacts(
        session,
        actor.account_id,
        page_request(page, per_page or settings.native_default_per_page),
        query=query,
        parent_handle=parent_handle,
        metadata=metadata_filters(request.query_params),
        sort=contacts.parse_sort(sort),
    )
    links, meta = page_links(request.url, result)
    data = [ContactRead.of(c, expansions(expand)) for c in result.items]
    return ContactPage(data=data, links=links, meta=meta)


@router.post("/contacts", response_model=ContactEnvelope, status_code=status.HTTP_201_CREATED)
async def create_contact(
    body: ContactCreate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    expand: Expand = None,
) -> ContactEnvelope:
    """Create a contact; an identical existing one is returned with 200 instead."""
    outcome = await contacts.create_contact(
        session, actor, body.core_fields(), allow_duplicate=body.allow_duplicate
    )
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    return ContactEnvelope(data=ContactRead.of(outcome.contact, expansions(expand)))


@router.post("/contacts/list", response_model=ContactsEnvelope)
async def contacts_by_handles(
    body: ContactListRequest, session: SessionDep, actor: ActorDep
) -> ContactsEnvelope:
    """The contacts with the given handles, in request order; unknown handles are left out."""
    found = await contacts.contacts_by_handles(session, actor.account_id, body.contacts)
    return ContactsEnvelope(data=[ContactRead.of(c, expansions(body.expand)) for c in found])


@router.get("/contacts/{handle}", response_model=ContactEnvelope)
async def get_contact(
    handle: str, session: SessionDep, actor: ActorDep, expand: Expand = None
) -> ContactEnvelope:
    """Retrieve a contact."""
    contact = await contacts.get_contact(session, actor.account_id, handle)
    return ContactEnvelope(data=ContactRead.of(contact, expansions(expand)))


@router.patch("/contacts/{handle}", response_model=ContactEnvelope)
async def update_contact(
    handle: str, body: ContactUpdate, session: SessionDep, actor: ActorDep, expand: Expand = None
) -> ContactEnvelope:
    """Update the fields given; name, company name and country cannot change."""
    contact = await contacts.update_contact(session, actor, handle, body.core_changes())
    return ContactEnvelope(data=ContactRead.of(contact, expansions(expand)))


@router.delete("/contacts/{handle}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact(handle: str, session: SessionDep, actor: ActorDep) -> Response:
    """Delete a contact nothing uses; the team default and last contact stay."""
    await contacts.delete_contact(session, actor, handle)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/contacts/{handle}/history", response_model=VersionPage)
async def history(
    handle: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    page: int = 1,
    per_page: int = 100,
) -> VersionPage:
    """Every version of a contact, oldest first, including after it was deleted."""
    result = await contact_history(session, actor.account_id, handle, page_request(page, per_page))
    links, meta = page_links(request.url, result)
    return VersionPage(data=[VersionRead.of(v) for v in result.items], links=links, meta=meta)
