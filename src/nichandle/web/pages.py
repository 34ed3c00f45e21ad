"""What every page shares: the signed-in user (cookie -> live session), CSRF, the layout."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from itsdangerous import BadSignature, Signer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from nichandle.accounts import sessions
from nichandle.accounts.models import Account
from nichandle.accounts.service import Actor
from nichandle.db.session import unit_of_work
from nichandle.dialects.deps import get_database, get_settings
from nichandle.errors import NichandleError, Unauthorized
from nichandle.settings import Settings

PREFIX = "/ui"
DIALECT = "web"
SESSION_COOKIE = "nichandle_session"
# Before there is a session, the sign-in form's CSRF token is paired with this cookie instead.
SIGN_IN_COOKIE = "nichandle_sign_in"
CSRF_FIELD = "csrf_token"
_SIGNING_KEY_STATE = "web_signing_key"

templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


templates.filters["when"] = _when


class CsrfRefused(NichandleError):
    code = "csrf_refused"


def base_path(settings: Settings) -> str:
    """Where the UI lives, behind any path prefix a proxy adds (NICHANDLE_PUBLIC_URL)."""
    prefix = urlsplit(settings.public_url).path if settings.public_url else ""
    return prefix + PREFIX


def secure_cookies(settings: Settings) -> bool:
    return bool(settings.public_url and settings.public_url.startswith("https://"))


async def signer(request: Request) -> Signer:
    """The cookie signer, its key made once per installation and kept per process."""
    key: str | None = getattr(request.app.state, _SIGNING_KEY_STATE, None)
    if key is None:
        async with unit_of_work(get_database(request)) as session:
            key = await sessions.signing_key(session)
        setattr(request.app.state, _SIGNING_KEY_STATE, key)
    return Signer(key, salt="nichandle.web.session")


@dataclass(frozen=True)
class Web:
    """A page's signed-in context: who, in which account, acting how, with which CSRF token."""

    who: sessions.SignedIn
    account: Account
    actor: Actor

    @property
    def csrf(self) -> str:
        return self.who.session.csrf_token


class PasswordChangeRequired(NichandleError):
    """The user signed in with a one-time password: every page waits for a new one."""

    code = "password_change_required"


async def _session(request: Request) -> Web:
    """The live session the cookie names, whatever the state of its user's password."""
    cookie = request.cookies.get(SESSION_COOKIE)
    secret = None
    if cookie:
        try:
            secret = (await signer(request)).unsign(cookie).decode()
        except BadSignature:
            secret = None
    async with unit_of_work(get_database(request), write=False, per_statement=True) as session:
        who = await sessions.signed_in(session, secret)
    if who.account is None:
        raise Unauthorized("This user belongs to no team; ask an owner to add you")
    request_id = request.scope.get("state", {}).get("request_id")
    actor = Actor(who.account.id, None, DIALECT, request_id=request_id, user_id=who.user.id)
    return Web(who=who, account=who.account, actor=actor)


async def _signed_in(request: Request) -> Web:
    web = await _session(request)
    if web.who.user.password_change_required:
        raise PasswordChangeRequired("Choose your own password first")
    return web


async def signed_in_form(request: Request) -> Web:
    """A POST of a signed-in page: refused unless it carries the session's CSRF token."""
    web = await _signed_in(request)
    check_csrf(await request.form(), web.csrf)
    return web


async def session_form(request: Request) -> Web:
    """signed_in_form for the pages a one-time password may use (new password, sign out)."""
    web = await _session(request)
    check_csrf(await request.form(), web.csrf)
    return web


def check_csrf(form: FormData, expected: str | None) -> None:
    given = form.get(CSRF_FIELD)
    if not expected or not isinstance(given, str) or not secrets.compare_digest(given, expected):
        raise CsrfRefused("The form is stale or was not sent by this site; reload the page")


SignedInPage = Annotated[Web, Depends(_signed_in)]
SignedInForm = Annotated[Web, Depends(signed_in_form)]
# The password page and sign-out: open to a session whose password is one-time.
SessionPage = Annotated[Web, Depends(_session)]
SessionForm = Annotated[Web, Depends(session_form)]


# Every page: never framed (clickjacking), scripts and forms of this site only, not cached (a
# page may hold a token's secret), no full URL leaked in Referer.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}


def page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def render(
    request: Request, template: str, web: Web | None = None, *, status: int = 200, **context: Any
) -> HTMLResponse:
    settings = get_settings(request)
    html = templates.get_template(template).render(
        ui=base_path(settings), web=web, path=request.url.path, **context
    )
    return page(html, status)


def redirect(request: Request, path: str, **query: str) -> RedirectResponse:
    """303 to a page of the UI (a path, never built from the client's Host header)."""
    url = base_path(get_settings(request)) + path
    if query:
        url += "?" + urlencode(query)
    return RedirectResponse(url, status_code=303)


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""
