"""The page the mailed link opens: GET shows a confirm button and changes nothing (a mail
scanner that follows links verifies nothing); POST, with the CSRF token the page set as a
cookie and a form field (double submit), verifies. Expired, used or unknown links get a page
that says so (410 / 404), never an API error. The UI's layout, nobody signed in.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from nichandle.dialects.deps import ReadSession, WriteSession
from nichandle.errors import NotFound
from nichandle.verification import service
from nichandle.verification.service import TokenGone
from nichandle.web.pages import render

CSRF_COOKIE = "nichandle_verify_csrf"
CSRF_FIELD = "csrf_token"
FORM_BYTES = 4096

router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = render(request, f"verification/{template}", status=status, **context)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


def _problem(request: Request, exc: NotFound) -> HTMLResponse:
    if isinstance(exc, TokenGone):
        expired = exc.code == "verification_expired"
        title = "Link expired" if expired else "Link used"
        return _page(request, "problem.html", 410, title=title, message=str(exc))
    return _page(request, "problem.html", 404, title="Unknown link", message=str(exc))


@router.get("/verify/{token}")
async def confirm_page(token: str, request: Request, session: ReadSession) -> HTMLResponse:
    """The confirm page: what is being verified and a button; changes nothing."""
    try:
        target = await service.by_token(session, token)
    except NotFound as exc:
        return _problem(request, exc)
    csrf = secrets.token_urlsafe(32)
    response = _page(
        request,
        "confirm.html",
        email=target.verification.email,
        domains=target.domains,
        deadline=target.verification.deadline_at,
        csrf_field=CSRF_FIELD,
        csrf=csrf,
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/verify", max_age=3600
    )
    return response


@router.post("/verify/{token}")
async def confirm(token: str, request: Request, session: WriteSession) -> HTMLResponse:
    """Verifies the address (the page's button)."""
    body = (await request.body())[:FORM_BYTES].decode(errors="replace")
    sent = parse_qs(body).get(CSRF_FIELD, [""])[0]
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not sent or not secrets.compare_digest(sent, cookie):
        return _page(
            request,
            "problem.html",
            403,
            title="Please try again",
            message="The confirmation form expired. Open the link from the mail again.",
        )
    ip = request.client.host if request.client else None
    try:
        target = await service.verify_by_token(session, token, ip=ip)
    except NotFound as exc:
        return _problem(request, exc)
    return _page(request, "verified.html", email=target.verification.email, domains=target.domains)
