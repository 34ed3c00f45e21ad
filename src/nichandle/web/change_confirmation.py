"""The page a change of registrant's confirmation mail opens (web/links: GET shows the change,
POST confirms it for the party the link was sent to)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from nichandle.dialects.deps import ReadSession, WriteSession
from nichandle.errors import Conflict, NotFound
from nichandle.registrant_changes import service
from nichandle.registrant_changes.service import Confirmation, TokenGone
from nichandle.web import links

CSRF_COOKIE = "nichandle_registrant_change_csrf"
PATH = "/registrant-change"

router = APIRouter(include_in_schema=False)


def _problem(request: Request, exc: NotFound) -> HTMLResponse:
    expired = exc.code == "registrant_change_link_expired"
    return links.problem(request, exc, was_valid=isinstance(exc, TokenGone), expired=expired)


def _context(confirmation: Confirmation) -> dict[str, Any]:
    request = confirmation.request
    return {
        "party": confirmation.party.value,
        "prior": {"name": request.prior_name, "email": request.prior_email},
        "new": {"name": request.new_name, "email": request.new_email},
        "fields": [field.replace("_", " ") for field in request.fields],
        "domains": confirmation.domains,
        "expires": request.expires_at,
    }


@router.get(f"{PATH}/{{token}}")
async def confirm_page(token: str, request: Request, session: ReadSession) -> HTMLResponse:
    """The change and a confirm button; changes nothing."""
    try:
        confirmation = await service.by_token(session, token)
    except NotFound as exc:
        return _problem(request, exc)
    return links.confirm_form(
        request,
        "registrant_change/confirm.html",
        cookie=CSRF_COOKIE,
        path=PATH,
        **_context(confirmation),
    )


@router.post(f"{PATH}/{{token}}")
async def confirm(token: str, request: Request, session: WriteSession) -> HTMLResponse:
    """Confirms the change for this link's party; the second confirmation applies it."""
    if not await links.form_is_fresh(request, cookie=CSRF_COOKIE):
        return links.stale_form(request)
    try:
        confirmation = await service.confirm_by_token(session, token)
    except NotFound as exc:
        return _problem(request, exc)
    except Conflict as exc:  # a dispute hold came meanwhile
        return links.page(
            request, "verification/problem.html", 409, title="Not possible now", message=str(exc)
        )
    return links.page(
        request,
        "registrant_change/confirmed.html",
        applied=confirmation.request.state.value == "applied",
        **_context(confirmation),
    )
