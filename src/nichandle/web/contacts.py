"""Contact pages: the list, create and edit forms, a contact's page, delete, bulk reassign.

Forms post back to the page that shows them; a FieldErrors re-renders the form with each
message beside its field (the same validation as the API: the services raise it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from nichandle.accounts import service as accounts
from nichandle.certificates import service as certificates
from nichandle.contacts import service as contacts
from nichandle.contacts.models import Contact
from nichandle.contacts.validation import TEXT_FIELDS, countries, states
from nichandle.dialects.deps import ReadSession, WriteSession
from nichandle.domains import reassign
from nichandle.domains import service as domains
from nichandle.domains.models import ROLES
from nichandle.errors import FieldErrors
from nichandle.history.service import contact_history
from nichandle.paging import page_request
from nichandle.registrant_changes import service as registrant_changes
from nichandle.registrant_changes.models import ChangeState
from nichandle.registrant_changes.repository import ChangeFilter
from nichandle.verification import service as verification
from nichandle.web import registrant_changes as changes_view
from nichandle.web.pages import SignedInForm, SignedInPage, Web, form_text, redirect, render

router = APIRouter()

PER_PAGE = 25
HISTORY_LIMIT = 100
# A contact page lists this many pending changes of registrant (the API pages through all).
PENDING_CHANGES_LIMIT = 100
# The columns the list sorts by, in the native API's sort words.
SORTS = {"name": "last_name", "email": "email", "country": "address_country_code"}
LOCKED = frozenset(contacts.IDENTITY_LOCKED_FIELDS)


def contact_fields(form: FormData) -> dict[str, Any]:
    """The form's contact fields by core name; blank is None (cleared, or "can't be blank")."""
    return {field: form_text(form, field).strip() or None for field in TEXT_FIELDS}


def _values_of(contact: Contact) -> dict[str, Any]:
    return {field: getattr(contact, field) for field in TEXT_FIELDS}


def _form(
    request: Request,
    web: Web,
    *,
    values: Mapping[str, Any],
    action: str,
    contact: Contact | None = None,
    errors: Mapping[str, list[str]] | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    country = (values.get("address_country_code") or "").upper()
    return render(
        request,
        "contact_form.html",
        web,
        status=status,
        values=values,
        action=action,
        contact=contact,
        errors=errors or {},
        countries=countries(),
        states=states(country) if country else [],
        locked=LOCKED if contact else frozenset(),
        **context,
    )


@router.get("/contacts", response_class=HTMLResponse)
async def list_page(
    request: Request,
    web: SignedInPage,
    session: ReadSession,
    query: str | None = None,
    sort: str | None = None,
    page: int = 1,
) -> Response:
    """The contacts list: search, sort and pages by the native API's rules."""
    account_id = web.account.id
    result = await contacts.list_contacts(
        session,
        account_id,
        page_request(page, PER_PAGE),
        query=query,
        sort=contacts.parse_sort(sort),
    )
    used = await domains.domain_counts(session, account_id, result.items)
    issued = await certificates.counts_by_contact(session, account_id, [c.id for c in result.items])
    total = result.total if not query else await contacts.count_contacts(session, account_id)
    rows = []
    for contact in result.items:
        n_domains, n_certificates = used.get(contact.id, 0), issued.get(contact.id, 0)
        rows.append(
            (
                contact,
                n_domains,
                n_certificates,
                _undeletable(contact, n_domains, n_certificates, total),
            )
        )
    return render(
        request,
        "contacts.html",
        web,
        rows=rows,
        result=result,
        query=query or "",
        sort=sort or "",
        sorts=SORTS,
    )


def _undeletable(contact: Contact, n_domains: int, n_certificates: int, total: int) -> str:
    """Why the row has no delete control, "" when it has one."""
    used_by = {"domains": n_domains, "certificates": n_certificates}
    return ", ".join(contacts.deletion_blockers(contact, total=total, used_by=used_by))


@router.get("/states", response_class=HTMLResponse)
async def state_field(request: Request, web: SignedInPage, country: str = "") -> Response:
    """The state field for a country (the form's script swaps it in when the country changes)."""
    return render(request, "_state_field.html", web, states=states(country), values={}, errors={})


@router.get("/contacts/new", response_class=HTMLResponse)
async def new_page(
    request: Request, web: SignedInPage, session: ReadSession, replaces: str | None = None
) -> Response:
    """An empty form; ``replaces``: a contact whose details it starts from, to assign after."""
    values: dict[str, Any] = {}
    if replaces:
        values = _values_of(await contacts.get_contact(session, web.account.id, replaces))
    return _form(request, web, values=values, action="/contacts/new", replaces=replaces or "")


@router.post("/contacts/new", response_class=HTMLResponse)
async def create(request: Request, web: SignedInForm, session: WriteSession) -> Response:
    form = await request.form()
    fields = contact_fields(form)
    fields["is_default"] = form.get("is_default") == "on"
    replaces = form_text(form, "replaces")
    try:
        outcome = await contacts.create_contact(
            session, web.actor, fields, allow_duplicate=form.get("allow_duplicate") == "1"
        )
    except FieldErrors as exc:
        return _form(
            request,
            web,
            values=fields,
            action="/contacts/new",
            errors=exc.messages(),
            status=422,
            replaces=replaces,
        )
    if not outcome.created:
        # The duplicate rule: offer the identical contact instead of a copy.
        return render(
            request,
            "duplicate.html",
            web,
            existing=outcome.contact,
            values=fields,
            replaces=replaces,
        )
    if replaces:
        return redirect(request, f"/contacts/{replaces}/reassign", to=outcome.contact.handle)
    return redirect(request, f"/contacts/{outcome.contact.handle}", saved="1")


@router.get("/contacts/{handle}", response_class=HTMLResponse)
async def contact_page(
    handle: str,
    request: Request,
    web: SignedInPage,
    session: ReadSession,
    saved: str = "",
    resent: str = "",
) -> Response:
    """A contact: details, its verification, what uses it in which role, its history."""
    account_id = web.account.id
    contact = await contacts.get_contact(session, account_id, handle)
    pending = await verification.open_for_contact(session, contact)
    checks = await verification.history(session, contact, page_request(1, HISTORY_LIMIT))
    used = await domains.domains_using(session, contact)
    # The changes waiting for this contact, as the prior or the new registrant.
    changes = await registrant_changes.list_changes(
        session,
        account_id,
        ChangeFilter(contact_id=contact.id, states=(ChangeState.PENDING,)),
        page_request(1, PENDING_CHANGES_LIMIT),
    )
    issued = await certificates.list_certificates(
        session, account_id, page_request(1, 100), contact=contact
    )
    history = await contact_history(session, account_id, handle, page_request(1, HISTORY_LIMIT))
    token_names, user_emails = await accounts.actor_names(
        session,
        [v.actor_token_id for v in history.items if v.actor_token_id is not None],
        [v.actor_user_id for v in history.items if v.actor_user_id is not None],
    )
    versions = [
        (version, who(version, token_names, user_emails), _changed(version.before, version.after))
        for version in reversed(history.items)  # newest first
    ]
    total = await contacts.count_contacts(session, account_id)
    n_domains = (await domains.domain_counts(session, account_id, [contact])).get(contact.id, 0)
    why_not = _undeletable(contact, n_domains, issued.total, total)
    return render(
        request,
        "contact.html",
        web,
        contact=contact,
        used=used,
        certificates=issued.items,
        versions=versions,
        why_not=why_not,
        saved=bool(saved),
        verification=pending,
        verification_history=checks.items,
        registrant_changes=await changes_view.views(session, changes.items),
        more_registrant_changes=changes.total - len(changes.items),
        resent=bool(resent),
        country_name=dict(countries()).get(contact.address_country_code, ""),
    )


@router.post("/contacts/{handle}/verification/resend")
async def resend_verification(
    handle: str, request: Request, web: SignedInForm, session: WriteSession
) -> Response:
    """The verification mail of the contact's address again (at most once per interval)."""
    contact = await contacts.get_contact(session, web.account.id, handle)
    await verification.resend_for_contact(session, web.actor, contact)
    return redirect(request, f"/contacts/{handle}", resent="1")


class _Acted(Protocol):
    actor_token_id: int | None
    actor_user_id: int | None


def who(row: _Acted, token_names: Mapping[int, str], user_emails: Mapping[int, str]) -> str:
    """History's "who": the web user's email, the API token's name, or nichandle itself."""
    if row.actor_user_id is not None:
        return user_emails.get(row.actor_user_id, f"user {row.actor_user_id}")
    if row.actor_token_id is not None:
        return f"token {token_names.get(row.actor_token_id, row.actor_token_id)}"
    return "nichandle"


def _changed(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> list[tuple[str, Any, Any]]:
    """(field, old, new) of every field a version changed."""
    before, after = before or {}, after or {}
    return [
        (field, before.get(field), after.get(field))
        for field in sorted(set(before) | set(after))
        if before.get(field) != after.get(field)
    ]


@router.get("/contacts/{handle}/edit", response_class=HTMLResponse)
async def edit_page(
    handle: str, request: Request, web: SignedInPage, session: ReadSession
) -> Response:
    contact = await contacts.get_contact(session, web.account.id, handle)
    return _form(
        request, web, values=_values_of(contact), action=f"/contacts/{handle}/edit", contact=contact
    )


@router.post("/contacts/{handle}/edit", response_class=HTMLResponse)
async def update(
    handle: str, request: Request, web: SignedInForm, session: WriteSession
) -> Response:
    """Saves the editable fields; the read-only ones are never sent to the service."""
    form = await request.form()
    contact = await contacts.get_contact(session, web.account.id, handle)
    changes: dict[str, Any] = {
        field: value for field, value in contact_fields(form).items() if field not in LOCKED
    }
    if form.get("is_default") == "on" and not contact.is_default:
        changes["is_default"] = True
    values = {**_values_of(contact), **changes}
    try:
        await contacts.update_contact(session, web.actor, handle, changes)
    except FieldErrors as exc:  # raised by validation, before anything is written
        return _form(
            request,
            web,
            values=values,
            action=f"/contacts/{handle}/edit",
            contact=contact,
            errors=exc.messages(),
            status=422,
        )
    return redirect(request, f"/contacts/{handle}", saved="1")


@router.post("/contacts/{handle}/delete")
async def delete(
    handle: str, request: Request, web: SignedInForm, session: WriteSession
) -> Response:
    """Deletes a contact nothing uses (else the Conflict's page says why not)."""
    await contacts.delete_contact(session, web.actor, handle)
    return redirect(request, "/contacts", deleted=handle)


@router.get("/contacts/{handle}/reassign", response_class=HTMLResponse)
async def reassign_page(
    handle: str, request: Request, web: SignedInPage, session: ReadSession, to: str = ""
) -> Response:
    contact = await contacts.get_contact(session, web.account.id, handle)
    return render(
        request,
        "reassign.html",
        web,
        contact=contact,
        to=to,
        roles=ROLES,
        chosen=ROLES,
        errors={},
    )


@router.post("/contacts/{handle}/reassign", response_class=HTMLResponse)
async def reassign_contact(
    handle: str, request: Request, web: SignedInForm, session: WriteSession
) -> Response:
    """Replace this contact by another in chosen roles: ``preview`` (a dry run listing the
    domains) first, then ``apply`` to the domains kept ticked, or ``apply_all``; one write
    path (reassign)."""
    form = await request.form()
    to = form_text(form, "to").strip()
    chosen = [r for r in form.getlist("roles") if isinstance(r, str)]
    picked = [d for d in form.getlist("domains") if isinstance(d, str)]
    action = form.get("action")
    apply = action in ("apply", "apply_all")
    contact = await contacts.get_contact(session, web.account.id, handle)
    try:
        result = await reassign.reassign_contact(
            session,
            web.actor,
            handle,
            to,
            roles=chosen,
            # "apply_all": every domain that names the contact when it runs (no list to send,
            # however many there are); "apply": the ones kept ticked.
            domains=picked if action == "apply" else None,
            dry_run=not apply,
        )
        errors, status = {}, 200
    except FieldErrors as exc:
        result, errors, status = None, exc.messages(), 422
    return render(
        request,
        "reassign.html",
        web,
        contact=contact,
        to=to,
        roles=ROLES,
        chosen=chosen,
        errors=errors,
        result=result,
        status=status,
    )
