"""Pages that a mailed link opens (a verification, a change of registrant's confirmation):
GET shows a confirm button and changes nothing (a mail scanner that follows links confirms
nothing); POST, with the CSRF token the page set as a cookie and a form field (double submit),
acts. Expired, used or unknown links get a page that says so (410 / 404), never an API error.
The UI's layout, nobody signed in."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse

from nichandle.errors import NotFound
from nichandle.web.pages import CSRF_FIELD, render

FORM_BYTES = 4096


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = render(request, template, status=status, **context)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


def problem(request: Request, exc: NotFound, *, was_valid: bool, expired: bool) -> HTMLResponse:
    """The page of a link that does not work: 410 when it did once (used, expired), else 404."""
    template = "verification/problem.html"
    if was_valid:
        title = "Link expired" if expired else "Link used"
        return page(request, template, 410, title=title, message=str(exc))
    return page(request, template, 404, title="Unknown link", message=str(exc))


def confirm_form(
    request: Request, template: str, *, cookie: str, path: str, **context: Any
) -> HTMLResponse:
    """The confirm page, with a fresh CSRF token in its form and in a cookie."""
    csrf = secrets.token_urlsafe(32)
    response = page(request, template, csrf_field=CSRF_FIELD, csrf=csrf, **context)
    response.set_cookie(cookie, csrf, httponly=True, samesite="strict", path=path, max_age=3600)
    return response


async def form_is_fresh(request: Request, *, cookie: str) -> bool:
    """Whether the POST carries the CSRF token its page set."""
    body = (await request.body())[:FORM_BYTES].decode(errors="replace")
    sent = parse_qs(body).get(CSRF_FIELD, [""])[0]
    return bool(sent) and secrets.compare_digest(sent, request.cookies.get(cookie, ""))


def stale_form(request: Request) -> HTMLResponse:
    return page(
        request,
        "verification/problem.html",
        403,
        title="Please try again",
        message="The confirmation form expired. Open the link from the mail again.",
    )
