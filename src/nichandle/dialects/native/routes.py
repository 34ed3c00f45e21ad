"""The native contacts API, /api/v1 (Domain Chief's contacts API, seed 001)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from nichandle.accounts.service import Actor
from nichandle.certificates import service as certificates
from nichandle.contacts import service as contacts
from nichandle.dialects.deps import (
    ReadSession,
    SettingsDep,
    WriteSession,
    authenticate_request,
    bearer_secret,
)
from nichandle.dialects.native.schemas import (
    CertificateCreate,
    CertificateEnvelope,
    CertificatePage,
    CertificateRead,
    ContactCreate,
    ContactEnvelope,
    ContactListRequest,
    ContactPage,
    ContactRead,
    ContactsEnvelope,
    ContactUpdate,
    ContactUsageEnvelope,
    ContactWithUsage,
    DomainCreate,
    DomainEnvelope,
    DomainPage,
    DomainRead,
    DomainUpdate,
    VersionPage,
    VersionRead,
    core_roles,
    expansions,
    metadata_filters,
    page_links,
)
from nichandle.domains import service as domains
from nichandle.history.service import contact_history
from nichandle.paging import MAX_PER_PAGE, page_request

DIALECT = "native"


async def native_actor(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_team: Annotated[str | None, Header()] = None,
) -> Actor:
    """Bearer token; personal tokens choose the team with X-Team: <id|slug>."""
    auth = await authenticate_request(request, bearer_secret(authorization), team=x_team)
    return Actor(account_id=auth.account.id, token_id=auth.token.id, dialect=DIALECT)


ActorDep = Annotated[Actor, Depends(native_actor)]
Expand = Annotated[list[str] | None, Query(alias="expand[]")]

router = APIRouter(prefix="/api/v1")


@router.get("/contacts", response_model=ContactPage, tags=["contacts"])
async def list_contacts(
    request: Request,
    session: ReadSession,
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
        page_request(page, settings.native_default_per_page if per_page is None else per_page),
        query=query,
        parent_handle=parent_handle,
        metadata=metadata_filters(request.query_params),
        sort=contacts.parse_sort(sort),
    )
    links, meta = page_links(request.url, result, settings.public_url)
    data = [ContactRead.of(c, expansions(expand)) for c in result.items]
    return ContactPage(data=data, links=links, meta=meta)


@router.post(
    "/contacts",
    response_model=ContactEnvelope,
    status_code=status.HTTP_201_CREATED,
    tags=["contacts"],
)
async def create_contact(
    body: ContactCreate,
    response: Response,
    session: WriteSession,
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


@router.post("/contacts/list", response_model=ContactsEnvelope, tags=["contacts"])
async def contacts_by_handles(
    body: ContactListRequest, session: WriteSession, actor: ActorDep
) -> ContactsEnvelope:
    """The contacts with the given handles, in request order; unknown handles are left out."""
    found = await contacts.contacts_by_handles(session, actor.account_id, body.contacts)
    return ContactsEnvelope(data=[ContactRead.of(c, expansions(body.expand)) for c in found])


@router.get(
    "/contacts/{handle}",
    response_model=ContactUsageEnvelope,
    response_model_exclude_unset=True,
    tags=["contacts"],
)
async def get_contact(
    handle: str, request: Request, session: ReadSession, actor: ActorDep, expand: Expand = None
) -> ContactUsageEnvelope:
    """Retrieve a contact; expand[]=domains / expand[]=certificates show what uses it."""
    wanted = expansions(expand)
    contact = await contacts.get_contact(session, actor.account_id, handle)
    used_by = None
    if "domains" in wanted:
        used_by = await domains.domains_using(session, contact)
    issued = None
    if "certificates" in wanted:
        issued = await certificates.list_certificates(
            session, actor.account_id, page_request(1, MAX_PER_PAGE), contact=contact
        )

    def list_url(kind: str) -> str:
        # A path, not a URL: never built from the client's Host header.
        return (
            f"{request.app.url_path_for(f'list_{kind}')}?{urlencode({'contact': contact.handle})}"
        )

    data = ContactWithUsage.with_usage(
        contact, wanted, domains=used_by, certificates=issued, list_url=list_url
    )
    return ContactUsageEnvelope(data=data)


@router.patch("/contacts/{handle}", response_model=ContactEnvelope, tags=["contacts"])
async def update_contact(
    handle: str, body: ContactUpdate, session: WriteSession, actor: ActorDep, expand: Expand = None
) -> ContactEnvelope:
    """Update the fields given; name, company name and country cannot change."""
    contact = await contacts.update_contact(session, actor, handle, body.core_changes())
    return ContactEnvelope(data=ContactRead.of(contact, expansions(expand)))


@router.delete("/contacts/{handle}", status_code=status.HTTP_204_NO_CONTENT, tags=["contacts"])
async def delete_contact(handle: str, session: WriteSession, actor: ActorDep) -> Response:
    """Delete a contact nothing uses; the team default and last contact stay."""
    await contacts.delete_contact(session, actor, handle)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/contacts/{handle}/history", response_model=VersionPage, tags=["contacts"])
async def history(
    handle: str,
    request: Request,
    session: ReadSession,
    actor: ActorDep,
    settings: SettingsDep,
    page: int = 1,
    per_page: int = 100,
) -> VersionPage:
    """Every version of a contact, oldest first, including after it was deleted."""
    result = await contact_history(session, actor.account_id, handle, page_request(page, per_page))
    links, meta = page_links(request.url, result, settings.public_url)
    return VersionPage(data=[VersionRead.of(v) for v in result.items], links=links, meta=meta)


@router.post(
    "/domains", response_model=DomainEnvelope, status_code=status.HTTP_201_CREATED, tags=["domains"]
)
async def add_domain(
    body: DomainCreate, session: WriteSession, actor: ActorDep, expand: Expand = None
) -> DomainEnvelope:
    """Add an existing registration to the team; roles left out use the default contact."""
    view = await domains.add_domain(
        session,
        actor,
        body.name,
        contacts_by_role=core_roles(body.contacts),
        settings=body.settings(),
    )
    return DomainEnvelope(data=DomainRead.of(view, expansions(expand)))


@router.get("/domains", response_model=DomainPage, tags=["domains"])
async def list_domains(
    request: Request,
    session: ReadSession,
    actor: ActorDep,
    settings: SettingsDep,
    query: str | None = None,
    contact: str | None = None,
    page: int = 1,
    per_page: int | None = None,
    expand: Expand = None,
) -> DomainPage:
    """List the team's domains; ``contact`` keeps those using that handle in any role."""
    result = await domains.list_domains_by_handle(
        session,
        actor.account_id,
        page_request(page, settings.native_default_per_page if per_page is None else per_page),
        query=query,
        contact_handle=contact,
    )
    links, meta = page_links(request.url, result, settings.public_url)
    data = [DomainRead.of(view, expansions(expand)) for view in result.items]
    return DomainPage(data=data, links=links, meta=meta)


@router.get("/domains/{name}", response_model=DomainEnvelope, tags=["domains"])
async def get_domain(
    name: str, session: ReadSession, actor: ActorDep, expand: Expand = None
) -> DomainEnvelope:
    """Retrieve a domain with its role contacts (expand[]=contacts embeds them)."""
    view = await domains.get_domain(session, actor.account_id, name)
    return DomainEnvelope(data=DomainRead.of(view, expansions(expand)))


@router.patch("/domains/{name}", response_model=DomainEnvelope, tags=["domains"])
async def update_domain(
    name: str, body: DomainUpdate, session: WriteSession, actor: ActorDep, expand: Expand = None
) -> DomainEnvelope:
    """Change settings and the roles sent; ``"contacts": {}`` resets every role to the default."""
    view = await domains.update_domain(
        session,
        actor,
        name,
        body.settings(),
        contacts_by_role=core_roles(body.contacts or {}),
        reset_roles=body.contacts == {},
    )
    return DomainEnvelope(data=DomainRead.of(view, expansions(expand)))


@router.delete("/domains/{name}", status_code=status.HTTP_204_NO_CONTENT, tags=["domains"])
async def delete_domain(name: str, session: WriteSession, actor: ActorDep) -> Response:
    """Remove a domain from the team."""
    await domains.delete_domain(session, actor, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/certificates",
    response_model=CertificateEnvelope,
    status_code=status.HTTP_201_CREATED,
    tags=["certificates"],
)
async def add_certificate(
    body: CertificateCreate, session: WriteSession, actor: ActorDep
) -> CertificateEnvelope:
    """Record a certificate and its contact (the default contact if none is given)."""
    certificate = await certificates.add_certificate(
        session,
        actor,
        common_name=body.common_name,
        contact_handle=body.contact,
        state=body.state,
        expires_at=body.expires_at,
    )
    return CertificateEnvelope(data=CertificateRead.of(certificate))


@router.get("/certificates", response_model=CertificatePage, tags=["certificates"])
async def list_certificates(
    request: Request,
    session: ReadSession,
    actor: ActorDep,
    settings: SettingsDep,
    contact: str | None = None,
    page: int = 1,
    per_page: int | None = None,
) -> CertificatePage:
    """List the team's certificates; ``contact`` keeps those of that handle."""
    result = await certificates.list_certificates_by_handle(
        session,
        actor.account_id,
        page_request(page, settings.native_default_per_page if per_page is None else per_page),
        contact_handle=contact,
    )
    links, meta = page_links(request.url, result, settings.public_url)
    return CertificatePage(
        data=[CertificateRead.of(c) for c in result.items], links=links, meta=meta
    )


@router.get(
    "/certificates/{certificate_id}", response_model=CertificateEnvelope, tags=["certificates"]
)
async def get_certificate(
    certificate_id: int, session: ReadSession, actor: ActorDep
) -> CertificateEnvelope:
    """Retrieve a certificate."""
    certificate = await certificates.get_certificate(session, actor.account_id, certificate_id)
    return CertificateEnvelope(data=CertificateRead.of(certificate))


@router.delete(
    "/certificates/{certificate_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["certificates"]
)
async def delete_certificate(
    certificate_id: int, session: WriteSession, actor: ActorDep
) -> Response:
    """Remove a certificate."""
    await certificates.delete_certificate(session, actor, certificate_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
