"""Domain pages: the list, and a domain's page with its four roles, each changeable to an
existing contact or to one created inline (the help article's "during registration")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts import service as accounts
from nichandle.contacts import service as contacts
from nichandle.contacts.validation import countries, states
from nichandle.db.base import utcnow
from nichandle.dialects.deps import ReadSession, WriteSession
from nichandle.domains import names
from nichandle.domains import service as domains
from nichandle.domains.models import ROLES
from nichandle.domains.status import status_at
from nichandle.errors import FieldErrors
from nichandle.history.service import domain_role_history
from nichandle.paging import page_request
from nichandle.registrant_changes import service as registrant_changes
from nichandle.verification import service as verification
from nichandle.web import registrant_changes as changes_view
from nichandle.web.contacts import contact_fields, who
from nichandle.web.pages import SignedInForm, SignedInPage, Web, form_text, redirect, render

router = APIRouter()

PER_PAGE = 25
# The contacts the role forms suggest (a datalist); any handle of the team can be typed.
SUGGESTED_CONTACTS = 100


@router.get("/domains", response_class=HTMLResponse)
async def list_page(
    request: Request,
    web: SignedInPage,
    session: ReadSession,
    query: str | None = None,
    page: int = 1,
) -> Response:
    result = await domains.list_domains(
        session, web.account.id, page_request(page, PER_PAGE), query=query
    )
    now = utcnow()
    rows = [
        (view, status_at(view.domain, now), names.to_unicode(view.domain.name))
        for view in result.items
    ]
    return render(request, "domains.html", web, rows=rows, result=result, query=query or "")


async def _domain_page(
    request: Request,
    web: Web,
    session: AsyncSession,
    name: str,
    *,
    errors: Mapping[str, list[str]] | None = None,
    values: Mapping[str, Any] | None = None,
    new_role: str = "",
    status: int = 200,
    resent: bool = False,
    cancelled: bool = False,
) -> HTMLResponse:
    view = await domains.get_domain(session, web.account.id, name)
    pending = (await verification.open_for_domains(session, web.account.id, [view.domain.id])).get(
        view.domain.id
    )
    change = (
        await registrant_changes.pending_for_domains(session, web.account.id, [view.domain.id])
    ).get(view.domain.id)
    suggested = await contacts.list_contacts(
        session, web.account.id, page_request(1, SUGGESTED_CONTACTS), sort=[("last_name", False)]
    )
    changes = await domain_role_history(session, web.account.id, view.domain.id)
    token_names, user_emails = await accounts.actor_names(
        session,
        [c.actor_token_id for c in changes if c.actor_token_id is not None],
        [c.actor_user_id for c in changes if c.actor_user_id is not None],
    )
    history = [(change, who(change, token_names, user_emails)) for change in changes]
    now = utcnow()
    lock_until = view.domain.transfer_lock_until
    values = values or {}
    country = (values.get("address_country_code") or "").upper()
    return render(
        request,
        "domain.html",
        web,
        status=status,
        view=view,
        unicode_name=names.to_unicode(view.domain.name),
        verification=pending,
        resent=resent,
        registrant_change=(await changes_view.views(session, [change]))[0] if change else None,
        cancelled=cancelled,
        domain_status=status_at(view.domain, now),
        transfer_locked=lock_until is not None and lock_until > now,
        roles=ROLES,
        suggested=suggested.items,
        history=history,
        errors=errors or {},
        values=values,
        new_role=new_role,
        countries=countries(),
        states=states(country) if country else [],
        locked=frozenset(),
    )


@router.get("/domains/{name}", response_class=HTMLResponse)
async def domain_page(
    name: str,
    request: Request,
    web: SignedInPage,
    session: ReadSession,
    resent: str = "",
    cancelled: str = "",
) -> Response:
    return await _domain_page(
        request, web, session, name, resent=bool(resent), cancelled=bool(cancelled)
    )


@router.post("/domains/{name}/transfer-lock-opt-out")
async def set_transfer_lock_opt_out(
    name: str, request: Request, web: SignedInForm, session: WriteSession
) -> Response:
    """The registrant's opt-out of the 60-day transfer lock after a change of registrant (kept
    with its time and who set it); ``opt_out`` on or absent."""
    form = await request.form()
    opt_out = form_text(form, "opt_out") == "on"
    await domains.update_domain(session, web.actor, name, {"transfer_lock_opt_out": opt_out})
    return redirect(request, f"/domains/{name}", saved="transfer_lock_opt_out")


@router.post("/domains/{name}/verification/resend")
async def resend_verification(
    name: str, request: Request, web: SignedInForm, session: WriteSession
) -> Response:
    """The registrant verification mail again (at most once per interval)."""
    domain = await domains.get_domain_model(session, web.account.id, name)
    await verification.resend(session, web.actor, domain)
    return redirect(request, f"/domains/{name}", resent="1")


@router.post("/domains/{name}/roles", response_class=HTMLResponse)
async def change_role(
    name: str, request: Request, web: SignedInForm, session: WriteSession
) -> Response:
    """Assigns one role to an existing contact (by handle; blank: back to the default)."""
    form = await request.form()
    role = form_text(form, "role")
    handle = form_text(form, "handle").strip() or None
    if role not in ROLES:
        raise FieldErrors.single("role", "invalid", f"must be one of {', '.join(ROLES)}")
    try:
        await domains.update_domain(session, web.actor, name, {}, contacts_by_role={role: handle})
    except FieldErrors as exc:
        return await _domain_page(request, web, session, name, errors=exc.messages(), status=422)
    return redirect(request, f"/domains/{name}", saved=role)


@router.post("/domains/{name}/contacts", response_class=HTMLResponse)
async def create_for_role(
    name: str, request: Request, web: SignedInForm, session: WriteSession
) -> Response:
    """Creates a contact (an identical existing one is reused) and assigns it to a role, in one
    transaction."""
    form = await request.form()
    role = form_text(form, "role")
    fields = contact_fields(form)
    if role not in ROLES:
        raise FieldErrors.single("role", "invalid", f"must be one of {', '.join(ROLES)}")
    await domains.get_domain(session, web.account.id, name)  # a foreign domain: 404 first
    try:
        outcome = await contacts.create_contact(session, web.actor, fields)
    except FieldErrors as exc:
        return await _domain_page(
            request,
            web,
            session,
            name,
            errors=exc.messages(),
            values=fields,
            new_role=role,
            status=422,
        )
    await domains.update_domain(
        session, web.actor, name, {}, contacts_by_role={role: outcome.contact.handle}
    )
    return redirect(request, f"/domains/{name}", saved=role)
