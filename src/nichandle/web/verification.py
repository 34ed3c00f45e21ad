"""The page a verification mail's link opens (web/links: GET shows, POST verifies)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from nichandle.dialects.deps import ReadSession, WriteSession
from nichandle.errors import NotFound
from nichandle.verification import service
from nichandle.verification.service import TokenGone
from nichandle.web import links

CSRF_COOKIE = "nichandle_verify_csrf"

router = APIRouter(include_in_schema=False)


def _problem(request: Request, exc: NotFound) -> HTMLResponse:
    expired = exc.code == "verification_expired"
    return links.problem(request, exc, was_valid=isinstance(exc, TokenGone), expired=expired)


@router.get("/verify/{token}")
async def confirm_page(token: str, request: Request, session: ReadSession) -> HTMLResponse:
    """The confirm page: what is being verified and a button; changes nothing."""
    try:
        target = await service.by_token(session, token)
    except NotFound as exc:
        return _problem(request, exc)
    return links.confirm_form(
        request,
        "verification/confirm.html",
        cookie=CSRF_COOKIE,
        path="/verify",
        email=target.verification.email,
        domains=target.domains,
        deadline=target.verification.deadline_at,
    )


@router.post("/verify/{token}")
async def confirm(token: str, request: Request, session: WriteSession) -> HTMLResponse:
    """Verifies the address (the page's button)."""
    if not await links.form_is_fresh(request, cookie=CSRF_COOKIE):
        return links.stale_form(request)
    ip = request.client.host if request.client else None
    try:
        target = await service.verify_by_token(session, token, ip=ip)
    except NotFound as exc:
        return _problem(request, exc)
    return links.page(
        request,
        "verification/verified.html",
        email=target.verification.email,
        domains=target.domains,
    )
