"""name.com Core API v1 (/core/v1): domains and the contacts embedded in their roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from nichandle.accounts.service import Actor
from nichandle.db.base import parse_id
from nichandle.dialects.deps import (
    ReadSession,
    WriteSession,
    actor_for,
    authenticate_basic_request,
    basic_credentials,
)
from nichandle.dialects.namecom.errors import UNSUPPORTED_MEDIA_TYPE
from nichandle.dialects.namecom.schemas import (
    REQUIRED_CORE_FIELDS,
    CreateDomainRequest,
    CreateDomainResponse,
    DomainList,
    DomainOut,
    SetContactsRequest,
    UnverifiedContactsResponse,
    UpdateDomainRequest,
)
from nichandle.domains import service as domains
from nichandle.errors import FieldErrors, NotFound
from nichandle.paging import page_request
from nichandle.verification import service as verification

DIALECT = "namecom"
MAX_PER_PAGE = 1000

Body = TypeVar("Body", bound=BaseModel)


async def namecom_actor(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_team: Annotated[str | None, Header()] = None,
) -> Actor:
    """HTTP Basic ``username:token``: the account's slug (or, with a personal token, the user's
    email; X-Team picks among several teams) and one of its tokens."""
    credentials = basic_credentials(authorization)
    auth = await authenticate_basic_request(request, credentials, team=x_team)
    return actor_for(request, auth, DIALECT)


def json_body(model: type[Body]) -> Callable[[Request], Awaitable[Body]]:
    """The body as ``model``, parsed by hand: 415 unless it is declared JSON, and malformed JSON
    or wrong types are name.com's 400, whatever FastAPI would have said."""

    async def parse(request: Request) -> Body:
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            raise HTTPException(status_code=415, detail=UNSUPPORTED_MEDIA_TYPE)
        try:
            return model.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
            raise RequestValidationError(errors) from exc

    return parse


ActorDep = Annotated[Actor, Depends(namecom_actor)]

router = APIRouter(prefix="/core/v1", tags=["namecom"])


@router.get("/domains", response_model=DomainList, response_model_exclude_unset=True)
async def list_domains(
    session: ReadSession, actor: ActorDep, perPage: int = MAX_PER_PAGE, page: int = 1
) -> DomainList:
    """ListDomains: the account's domains with their role contacts, 1000 a page by default."""
    request = page_request(page, perPage, max_per_page=MAX_PER_PAGE)
    result = await domains.list_domains(session, actor.account_id, request)
    return DomainList.of(result)


@router.post("/domains", response_model=CreateDomainResponse)
async def create_domain(
    session: WriteSession,
    actor: ActorDep,
    body: Annotated[CreateDomainRequest, Depends(json_body(CreateDomainRequest))],
) -> CreateDomainResponse:
    """CreateDomain: roles not given use the account's default contact."""
    view = await domains.add_domain_with_details(
        session,
        actor,
        body.domain.domainName,
        contacts_by_role=body.core_roles(),
        settings=body.settings(),
        years=body.years,
        require=REQUIRED_CORE_FIELDS,
    )
    return CreateDomainResponse.of(view)


@router.get("/domains/{domainName}", response_model=DomainOut)
async def get_domain(domainName: str, session: ReadSession, actor: ActorDep) -> DomainOut:
    """GetDomain: the domain with the contact of each role."""
    return DomainOut.of(await domains.get_domain(session, actor.account_id, domainName))


@router.patch("/domains/{domainName}", response_model=DomainOut)
async def update_domain(
    domainName: str,
    session: WriteSession,
    actor: ActorDep,
    body: Annotated[UpdateDomainRequest, Depends(json_body(UpdateDomainRequest))],
) -> DomainOut:
    """UpdateDomain: autorenew, WHOIS privacy and transfer lock."""
    view = await domains.update_domain(session, actor, domainName, body.changes())
    return DomainOut.of(view)


@router.post("/domains/{domainName}:setContacts", response_model=DomainOut)
async def set_contacts(
    domainName: str,
    session: WriteSession,
    actor: ActorDep,
    body: Annotated[SetContactsRequest, Depends(json_body(SetContactsRequest))],
) -> DomainOut:
    """SetContacts: all four roles at once, as whole contacts; identical ones are reused."""
    view = await domains.set_domain_contacts(
        session, actor, domainName, body.core_roles(), require=REQUIRED_CORE_FIELDS
    )
    return DomainOut.of(view)


@router.get(
    "/contacts/unverified",
    response_model=UnverifiedContactsResponse,
    response_model_by_alias=True,
)
async def list_unverified_contacts(
    session: ReadSession, actor: ActorDep, perPage: int = 100, page: int = 1
) -> UnverifiedContactsResponse:
    """UnverifiedContactsList: the registrant emails that still need verifying."""
    if perPage < 1 or page < 1:
        raise FieldErrors.single("perPage" if perPage < 1 else "page", "invalid", "must be >= 1")
    found = await verification.unverified(session, actor.account_id)
    return UnverifiedContactsResponse.of(found, page=page, per_page=min(perPage, MAX_PER_PAGE))


@router.post("/contacts/verify/{verificationId}", status_code=204)
async def verify_contact(verificationId: str, session: WriteSession, actor: ActorDep) -> Response:
    """VerifyContact: you verified the address yourself; 404 for an unknown id."""
    found = parse_id(verificationId)
    if found is None:
        raise NotFound(f"Verification {verificationId} not found", code="verification_not_found")
    await verification.verify_by_id(session, actor, found)
    return Response(status_code=204)
