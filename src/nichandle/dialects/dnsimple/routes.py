"""DNSimple API v2 (/v2): whoami, accounts, contacts and domains, so the official client works.

Contacts are named by integer id under ``/v2/{account}/``; the account must be one the token may
act for. Path ids are taken as text and looked up by the services, so ids that can't exist are
404s like any unknown one, never a 400 or a database error.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status

from nichandle.accounts import service as accounts
from nichandle.accounts.service import Actor
from nichandle.contacts import service as contacts
from nichandle.contacts.service import ContactRef
from nichandle.dialects.deps import (
    ReadSession,
    WriteSession,
    actor_for,
    authenticate_request,
    bearer_secret,
    identify_request,
)
from nichandle.dialects.dnsimple.schemas import (
    CONTACT_SORT_FIELDS,
    AccountRead,
    AccountsEnvelope,
    ContactCreate,
    ContactEnvelope,
    ContactPage,
    ContactRead,
    ContactUpdate,
    DomainEnvelope,
    DomainPage,
    DomainRead,
    Pagination,
    UserRead,
    Whoami,
    WhoamiEnvelope,
)
from nichandle.domains import service as domains
from nichandle.paging import page_request

DIALECT = "dnsimple"
DEFAULT_PER_PAGE = 30

Authorization = Annotated[str | None, Header()]


async def dnsimple_actor(
    request: Request, account: str, authorization: Authorization = None
) -> Actor:
    """Bearer token; the account in the path must be one the token may act for, else 404."""
    auth = await authenticate_request(request, bearer_secret(authorization), team=account)
    return actor_for(request, auth, DIALECT)


async def dnsimple_identity(
    request: Request, authorization: Authorization = None
) -> accounts.Identity:
    """Bearer token, before any account is chosen (whoami, accounts)."""
    return await identify_request(request, bearer_secret(authorization))


ActorDep = Annotated[Actor, Depends(dnsimple_actor)]
IdentityDep = Annotated[accounts.Identity, Depends(dnsimple_identity)]

router = APIRouter(prefix="/v2", tags=["dnsimple"])


@router.get("/whoami", response_model=WhoamiEnvelope)
async def whoami(session: ReadSession, identity: IdentityDep) -> WhoamiEnvelope:
    """The token's account (account tokens) or user (personal tokens)."""
    if identity.user is not None:
        return WhoamiEnvelope(data=Whoami(user=UserRead.of(identity.user), account=None))
    account = identity.accounts[0]
    emails = await accounts.account_emails(session, [account])
    return WhoamiEnvelope(
        data=Whoami(user=None, account=AccountRead.of(account, emails[account.id]))
    )


@router.get("/accounts", response_model=AccountsEnvelope)
async def list_accounts(session: ReadSession, identity: IdentityDep) -> AccountsEnvelope:
    """The accounts the token may act for."""
    emails = await accounts.account_emails(session, identity.accounts)
    return AccountsEnvelope(data=[AccountRead.of(a, emails[a.id]) for a in identity.accounts])


@router.get("/{account}/contacts", response_model=ContactPage)
async def list_contacts(
    session: ReadSession,
    actor: ActorDep,
    sort: str | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> ContactPage:
    """List the account's contacts (sort: id, label, email with :asc/:desc; default id)."""
    result = await contacts.list_contacts(
        session,
        actor.account_id,
        page_request(page, per_page),
        sort=contacts.parse_sort(sort, allowed=CONTACT_SORT_FIELDS),
    )
    data = [ContactRead.of(c) for c in result.items]
    return ContactPage(data=data, pagination=Pagination.of(result))


@router.post(
    "/{account}/contacts", response_model=ContactEnvelope, status_code=status.HTTP_201_CREATED
)
async def create_contact(
    body: ContactCreate, session: WriteSession, actor: ActorDep
) -> ContactEnvelope:
    """Create a contact; DNSimple never deduplicates."""
    outcome = await contacts.create_contact(
        session, actor, body.core_values(), allow_duplicate=True, require=body.required_fields()
    )
    return ContactEnvelope(data=ContactRead.of(outcome.contact))


@router.get("/{account}/contacts/{contact}", response_model=ContactEnvelope)
async def get_contact(contact: str, session: ReadSession, actor: ActorDep) -> ContactEnvelope:
    """Retrieve a contact by id."""
    found = await contacts.get_contact(session, actor.account_id, ContactRef(id=contact))
    return ContactEnvelope(data=ContactRead.of(found))


@router.patch("/{account}/contacts/{contact}", response_model=ContactEnvelope)
async def update_contact(
    contact: str, body: ContactUpdate, session: WriteSession, actor: ActorDep
) -> ContactEnvelope:
    """Update the fields sent; names and country may change too."""
    updated = await contacts.update_contact(
        session,
        actor,
        ContactRef(id=contact),
        body.core_values(),
        allow_identity_change=True,
        require=body.required_fields(),
    )
    return ContactEnvelope(data=ContactRead.of(updated))


@router.delete("/{account}/contacts/{contact}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact(contact: str, session: WriteSession, actor: ActorDep) -> Response:
    """Delete a contact nothing uses (not the account's default or last contact)."""
    await contacts.delete_contact(session, actor, ContactRef(id=contact))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{account}/domains", response_model=DomainPage)
async def list_domains(
    session: ReadSession,
    actor: ActorDep,
    name_like: str | None = None,
    registrant_id: int | None = None,
    sort: str | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> DomainPage:
    """List the account's domains (registrant_id counts the default contact; default by name)."""
    result = await domains.list_domains_by_registrant_id(
        session,
        actor.account_id,
        page_request(page, per_page),
        query=name_like,
        registrant_id=registrant_id,
        sort=domains.parse_sort(sort) or [("name", False)],
    )
    return DomainPage(
        data=[DomainRead.of(v) for v in result.items], pagination=Pagination.of(result)
    )


@router.get("/{account}/domains/{domain}", response_model=DomainEnvelope)
async def get_domain(domain: str, session: ReadSession, actor: ActorDep) -> DomainEnvelope:
    """Retrieve a domain by name or id."""
    view = await domains.get_domain_by_name_or_id(session, actor.account_id, domain)
    return DomainEnvelope(data=DomainRead.of(view))
