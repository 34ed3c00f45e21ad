"""The native contacts API, /api/v1 (Domain Chief's contacts API, seed 001)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Query, Request, Response, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.certificates import service as certificates
from nichandle.contacts import service as contacts
from nichandle.dialects.deps import (
    ReadSession,
    SettingsDep,
    WriteSession,
    actor_for,
    authenticate_request,
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
    ContactPendingEnvelope,
    ContactRead,
    ContactReassign,
    ContactsEnvelope,
    ContactUpdate,
    ContactUsageEnvelope,
    ContactVerificationEnvelope,
    ContactVerificationRead,
    ContactWithUsage,
    DomainCreate,
    DomainEnvelope,
    DomainPage,
    DomainRead,
    DomainUpdate,
    ErrorRead,
    FieldErrorsRead,
    ReassignmentEnvelope,
    ReassignmentRead,
    RegistrantChangeRead,
    VerificationEntryPage,
    VerificationEntryRead,
    VersionPage,
    VersionRead,
    core_roles,
    expansions,
    metadata_filters,
    page_links,
    registrant_change_notice,
    verification_notice,
)
from nichandle.domains import reassign
from nichandle.domains import service as domains
from nichandle.domains.service import DomainView
from nichandle.history.service import contact_history
from nichandle.paging import MAX_PER_PAGE, page_request
from nichandle.registrant_changes import service as registrant_changes
from nichandle.registrant_changes.models import RegistrantChange
from nichandle.settings import Settings
from nichandle.verification import service as verification

DIALECT = "native"

# Declared as a security scheme, so the OpenAPI says how to authenticate (and clients and
# schemathesis send it); a missing or non-Bearer header is our own 401, not FastAPI's.
BEARER = HTTPBearer(auto_error=False, description="An account token, or a personal token")


async def native_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
    x_team: Annotated[str | None, Header()] = None,
) -> Actor:
    """Bearer token; personal tokens choose the team with X-Team: <id|slug>."""
    secret = credentials.credentials if credentials is not None else None
    auth = await authenticate_request(request, secret, team=x_team)
    return actor_for(request, auth, DIALECT)


ActorDep = Annotated[Actor, Depends(native_actor)]
Expand = Annotated[list[str] | None, Query(alias="expand[]")]


# The OpenAPI declares every answer a route can give, in the native envelope (errors.py), so a
# client (and the schemathesis run in tests/dialects/native) can hold us to it.
def _error(description: str, model: type[ErrorRead] = ErrorRead) -> dict[str, Any]:
    return {"model": model, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The body is not valid JSON, or the URL holds a NUL byte"),
    401: _error("No Bearer token, or an unknown or revoked one"),
    404: _error("Not found: what the path names, or the team X-Team names"),
    422: _error("Validation failed: every field problem at once", FieldErrorsRead),
    429: _error("Too many failed authentications from this address, or the token's quota"),
    503: _error("The database is busy: retry after Retry-After seconds"),
}
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: _error("The request body is larger than the limit")
}


def _conflict(description: str) -> dict[int | str, dict[str, Any]]:
    return {409: _error(description)}


def _links(**links: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """OpenAPI links: name -> (operationId, {parameter: runtime expression})."""
    return {
        "links": {
            name: {"operationId": operation, "parameters": parameters}
            for name, (operation, parameters) in links.items()
        }
    }


_HANDLE = {"handle": "$response.body#/data/handle"}
_CONTACT = {"contact": "$response.body#/data/handle"}
CONTACT_LINKS = _links(
    GetContact=("getContact", _HANDLE),
    UpdateContact=("updateContact", _HANDLE),
    DeleteContact=("deleteContact", _HANDLE),
    ContactHistory=("contactHistory", _HANDLE),
    DomainsOfContact=("listDomains", _CONTACT),
    CertificatesOfContact=("listCertificates", _CONTACT),
)
_NAME = {"name": "$response.body#/data/name"}
DOMAIN_LINKS = _links(
    GetDomain=("getDomain", _NAME),
    UpdateDomain=("updateDomain", _NAME),
    DeleteDomain=("deleteDomain", _NAME),
)
_CERTIFICATE = {"certificate_id": "$response.body#/data/id"}
CERTIFICATE_LINKS = _links(
    GetCertificate=("getCertificate", _CERTIFICATE),
    DeleteCertificate=("deleteCertificate", _CERTIFICATE),
)

router = APIRouter(prefix="/api/v1", responses=ERRORS)


@router.get("/contacts", response_model=ContactPage, tags=["contacts"], operation_id="listContacts")
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
    response_model=ContactEnvelope | ContactPendingEnvelope,
    status_code=status.HTTP_201_CREATED,
    tags=["contacts"],
    operation_id="createContact",
    responses={
        201: CONTACT_LINKS,
        200: {"model": ContactEnvelope, "description": "An identical contact exists: it"}
        | CONTACT_LINKS,
        202: {"model": ContactPendingEnvelope},
        **TOO_LARGE,
    },
)
async def create_contact(
    body: ContactCreate,
    response: Response,
    session: WriteSession,
    actor: ActorDep,
    expand: Expand = None,
) -> ContactEnvelope | ContactPendingEnvelope:
    """Create a contact; an identical existing one is returned with 200 instead. 202 when,
    made the default, it started changes of registrant of the domains that leave the role
    unset (listed, as for an edit)."""
    outcome = await contacts.create_contact(
        session, actor, body.core_fields(), allow_duplicate=body.allow_duplicate
    )
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    read = ContactRead.of(outcome.contact, expansions(expand))
    return await _contact_answer(session, response, read)


@router.post(
    "/contacts/list",
    response_model=ContactsEnvelope,
    tags=["contacts"],
    operation_id="listContactsByHandle",
    responses=TOO_LARGE,
)
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
    operation_id="getContact",
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


@router.patch(
    "/contacts/{handle}",
    response_model=ContactEnvelope | ContactPendingEnvelope,
    tags=["contacts"],
    operation_id="updateContact",
    responses={202: {"model": ContactPendingEnvelope}, **TOO_LARGE},
)
async def update_contact(
    handle: str,
    body: ContactUpdate,
    session: WriteSession,
    actor: ActorDep,
    response: Response,
    expand: Expand = None,
) -> ContactEnvelope | ContactPendingEnvelope:
    """Update the fields given; name, company name and country cannot change (but for a
    declared typo fix). 202 when the edit (or making the contact the default) started changes
    of registrant that wait for both parties' confirmation (cor-2024): they are listed, and
    their domains keep showing the prior registrant until applied."""
    contact = await contacts.update_contact(
        session, actor, handle, body.core_changes(), typo_correction=body.typo_correction
    )
    read = ContactRead.of(contact, expansions(expand))
    return await _contact_answer(session, response, read)


async def _contact_answer(
    session: AsyncSession, response: Response, read: ContactRead
) -> ContactEnvelope | ContactPendingEnvelope:
    """The contact, with the changes of registrant the write started and left pending (202)."""
    if pending := registrant_changes.started_in(session):
        response.status_code = status.HTTP_202_ACCEPTED
        changes = await registrant_change_reads(session, pending)
        return ContactPendingEnvelope(data=read, registrant_changes=changes)
    return ContactEnvelope(data=read)


@router.delete(
    "/contacts/{handle}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["contacts"],
    operation_id="deleteContact",
    responses=_conflict("In use, the team default, or the team's last contact"),
)
async def delete_contact(handle: str, session: WriteSession, actor: ActorDep) -> Response:
    """Delete a contact nothing uses; the team default and last contact stay."""
    await contacts.delete_contact(session, actor, handle)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/contacts/{handle}/history",
    response_model=VersionPage,
    tags=["contacts"],
    operation_id="contactHistory",
)
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


@router.get(
    "/contacts/{handle}/verification-history",
    response_model=VerificationEntryPage,
    tags=["contacts"],
    operation_id="contactVerificationHistory",
)
async def verification_history(
    handle: str,
    request: Request,
    session: ReadSession,
    actor: ActorDep,
    settings: SettingsDep,
    page: int = 1,
    per_page: int = 100,
) -> VerificationEntryPage:
    """The contact's registrant verification history: mails, verification, suspensions."""
    contact = await contacts.get_contact(session, actor.account_id, handle)
    result = await verification.history(session, contact, page_request(page, per_page))
    links, meta = page_links(request.url, result, settings.public_url)
    data = [VerificationEntryRead.of(entry) for entry in result.items]
    return VerificationEntryPage(data=data, links=links, meta=meta)


@router.post(
    "/contacts/{handle}/reassign",
    response_model=ReassignmentEnvelope,
    tags=["contacts"],
    operation_id="reassignContact",
    responses=TOO_LARGE,
)
async def reassign_contact(
    handle: str, body: ContactReassign, session: WriteSession, actor: ActorDep
) -> ReassignmentEnvelope:
    """Replace the contact by ``to`` in the roles given, across the team's domains or those
    listed, one history entry per role moved; ``dry_run`` previews and changes nothing."""
    result = await reassign.reassign_contact(
        session,
        actor,
        handle,
        body.to,
        roles=body.core_roles(),
        domains=body.domains,
        dry_run=body.dry_run,
    )
    return ReassignmentEnvelope(data=ReassignmentRead.of(result))


@router.post(
    "/domains",
    response_model=DomainEnvelope,
    status_code=status.HTTP_201_CREATED,
    tags=["domains"],
    operation_id="addDomain",
    responses={
        201: DOMAIN_LINKS,
        **TOO_LARGE,
        **_conflict("The team (or another team) already has the domain"),
    },
)
async def add_domain(
    body: DomainCreate,
    session: WriteSession,
    actor: ActorDep,
    settings: SettingsDep,
    expand: Expand = None,
) -> DomainEnvelope:
    """Add an existing registration to the team; roles left out use the default contact."""
    view = await domains.add_domain(
        session,
        actor,
        body.name,
        contacts_by_role=core_roles(body.contacts),
        settings=body.settings(),
    )
    [read] = await _domain_reads(session, settings, [view], expand)
    return DomainEnvelope(data=read)


@router.get("/domains", response_model=DomainPage, tags=["domains"], operation_id="listDomains")
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
    data = await _domain_reads(session, settings, result.items, expand)
    return DomainPage(data=data, links=links, meta=meta)


@router.get(
    "/domains/{name}", response_model=DomainEnvelope, tags=["domains"], operation_id="getDomain"
)
async def get_domain(
    name: str, session: ReadSession, actor: ActorDep, settings: SettingsDep, expand: Expand = None
) -> DomainEnvelope:
    """Retrieve a domain with its role contacts (expand[]=contacts embeds them)."""
    view = await domains.get_domain(session, actor.account_id, name)
    [read] = await _domain_reads(session, settings, [view], expand)
    return DomainEnvelope(data=read)


@router.patch(
    "/domains/{name}",
    response_model=DomainEnvelope,
    tags=["domains"],
    operation_id="updateDomain",
    responses={202: {"model": DomainEnvelope}, **TOO_LARGE},
)
async def update_domain(
    name: str,
    body: DomainUpdate,
    session: WriteSession,
    actor: ActorDep,
    settings: SettingsDep,
    response: Response,
    expand: Expand = None,
) -> DomainEnvelope:
    """Change settings and the roles sent; ``"contacts": {}`` resets every role to the default.
    202 when a new owner waits for both registrants' confirmation (cor-2024): the domain shows
    the prior one, with a notice of the pending change."""
    view = await domains.update_domain(
        session,
        actor,
        name,
        body.settings(),
        contacts_by_role=core_roles(body.contacts or {}),
        reset_roles=body.contacts == {},
    )
    if registrant_changes.started_in(session):
        response.status_code = status.HTTP_202_ACCEPTED
    [read] = await _domain_reads(session, settings, [view], expand)
    return DomainEnvelope(data=read)


async def _domain_reads(
    session: AsyncSession, settings: Settings, views: Sequence[DomainView], expand: Expand
) -> list[DomainRead]:
    """The domains as the wire shows them, with the notices of their open verifications and
    pending changes of registrant."""
    if not views:
        return []
    account_id = views[0].domain.account_id
    ids = [view.domain.id for view in views]
    waiting = await verification.open_for_domains(session, account_id, ids)
    pending = await registrant_changes.pending_for_domains(session, account_id, ids)
    requests = await registrant_changes.requests_of(session, list(pending.values()))
    base = settings.public_url or ""
    reads = []
    for view in views:
        notices = []
        if view.domain.id in waiting:
            notices.append(verification_notice(view.domain.name, waiting[view.domain.id], base))
        if change := pending.get(view.domain.id):
            notices.append(registrant_change_notice(change, requests[change.request_id], base))
        reads.append(DomainRead.of(view, expansions(expand), notices))
    return reads


async def registrant_change_reads(
    session: AsyncSession, changes: Sequence[RegistrantChange]
) -> list[RegistrantChangeRead]:
    """The changes as the wire shows them, each with its request's confirmations."""
    requests = await registrant_changes.requests_of(session, changes)
    return [RegistrantChangeRead.of(change, requests[change.request_id]) for change in changes]


@router.get(
    "/domains/{name}/contact-verification",
    response_model=ContactVerificationEnvelope,
    tags=["domains"],
    operation_id="getContactVerification",
)
async def get_contact_verification(
    name: str, session: ReadSession, actor: ActorDep
) -> ContactVerificationEnvelope:
    """The open registrant verification the domain waits for (404 when none)."""
    domain = await domains.get_domain_model(session, actor.account_id, name)
    found = await verification.open_for_domain(session, domain)
    names = await verification.domain_names(session, found)
    return ContactVerificationEnvelope(data=ContactVerificationRead.of(found, names))


@router.post(
    "/domains/{name}/contact-verification/resend",
    response_model=DomainEnvelope,
    tags=["domains"],
    operation_id="resendContactVerification",
    responses={
        400: {"model": ErrorRead, "description": "The domain needs no verification"},
        429: {"model": ErrorRead, "description": "Sent less than 15 minutes ago (Retry-After)"},
    },
)
async def resend_contact_verification(
    name: str, session: WriteSession, actor: ActorDep, settings: SettingsDep
) -> DomainEnvelope:
    """Send the registrant verification mail again (at most once per 15 minutes)."""
    domain = await domains.get_domain_model(session, actor.account_id, name)
    await verification.resend(session, actor, domain)
    [read] = await _domain_reads(session, settings, [await domains.resolve(session, domain)], None)
    return DomainEnvelope(data=read)


@router.delete(
    "/domains/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["domains"],
    operation_id="deleteDomain",
)
async def delete_domain(name: str, session: WriteSession, actor: ActorDep) -> Response:
    """Remove a domain from the team."""
    await domains.delete_domain(session, actor, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/certificates",
    response_model=CertificateEnvelope,
    status_code=status.HTTP_201_CREATED,
    tags=["certificates"],
    operation_id="addCertificate",
    responses={201: CERTIFICATE_LINKS, **TOO_LARGE},
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


@router.get(
    "/certificates",
    response_model=CertificatePage,
    tags=["certificates"],
    operation_id="listCertificates",
)
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
    "/certificates/{certificate_id}",
    response_model=CertificateEnvelope,
    tags=["certificates"],
    operation_id="getCertificate",
)
async def get_certificate(
    certificate_id: int, session: ReadSession, actor: ActorDep
) -> CertificateEnvelope:
    """Retrieve a certificate."""
    certificate = await certificates.get_certificate(session, actor.account_id, certificate_id)
    return CertificateEnvelope(data=CertificateRead.of(certificate))


@router.delete(
    "/certificates/{certificate_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["certificates"],
    operation_id="deleteCertificate",
)
async def delete_certificate(
    certificate_id: int, session: WriteSession, actor: ActorDep
) -> Response:
    """Remove a certificate."""
    await certificates.delete_certificate(session, actor, certificate_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/contacts/{handle}/verify",
    response_model=ContactEnvelope,
    tags=["contacts"],
    operation_id="verifyContactEmail",
)
async def verify_contact_email(
    handle: str, session: WriteSession, actor: ActorDep
) -> ContactEnvelope:
    """Mark the contact's email verified (you verified it yourself); recorded with your token."""
    contact = await contacts.get_contact(session, actor.account_id, handle)
    await verification.verify_contact_email(session, actor, contact)
    return ContactEnvelope(data=ContactRead.of(contact))
