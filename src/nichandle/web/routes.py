"""The web UI's pages: sign-in, the account switcher, tokens; contacts and domains beside."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from nichandle.accounts import service as accounts
from nichandle.accounts import sessions
from nichandle.db.session import unit_of_work
from nichandle.dialects.deps import ReadSession, WriteSession, get_database, get_settings
from nichandle.dialects.ratelimit import AuthFailures, client_address
from nichandle.errors import FieldErrors, Unauthorized
from nichandle.settings import Settings
from nichandle.web import (
    change_confirmation,
    contacts,
    domains,
    registrant_changes,
    verification,
)
from nichandle.web.pages import (
    PREFIX,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SessionForm,
    SessionPage,
    SignedInForm,
    SignedInPage,
    base_path,
    check_csrf,
    form_text,
    redirect,
    render,
    secure_cookies,
    signer,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
router.include_router(contacts.router)
router.include_router(domains.router)
router.include_router(registrant_changes.router)


class SignInLimits:
    """Failed sign-ins per email (whether or not a user has it: no enumeration) and per client
    address; past either limit the sign-in page answers 429 before looking at the password."""

    def __init__(self, settings: Settings) -> None:
        window = settings.web_sign_in_window_seconds
        self.by_email = AuthFailures(settings.web_sign_in_failures_per_email, window)
        self.by_address = AuthFailures(settings.web_sign_in_failures_per_address, window)


def install(app: FastAPI, settings: Settings) -> None:
    """Mounts the UI on ``app``: its pages, its stylesheet, its sign-in limits."""
    app.state.sign_in_limits = SignInLimits(settings)
    app.include_router(router)
    app.include_router(verification.router)  # the mailed link's page, at /verify
    app.include_router(change_confirmation.router)  # and at /registrant-change
    static = StaticFiles(directory=Path(__file__).parent / "static")
    app.mount(f"{PREFIX}/static", static, name="web_static")

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse(f"{base_path(settings)}/contacts", status_code=303)


@router.get("", response_class=RedirectResponse)
async def start(request: Request) -> RedirectResponse:
    return redirect(request, "/contacts")


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> Response:
    return _sign_in_form(request)


def _sign_in_form(
    request: Request, *, status: int = 200, email: str = "", error: str = ""
) -> Response:
    settings = get_settings(request)
    token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, "sign_in.html", status=status, csrf=token, email=email, error=error)
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
        path=base_path(settings),
    )
    return response


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    check_csrf(form, request.cookies.get(SIGN_IN_COOKIE))
    email = form_text(form, "email").strip().lower()
    password = form_text(form, "password")
    limits: SignInLimits = request.app.state.sign_in_limits
    address = client_address(request.scope)
    await limits.by_address.check(address)
    await limits.by_email.check(email)
    settings = get_settings(request)
    try:
        async with unit_of_work(get_database(request)) as session:
            user = await sessions.check_password(session, email, password)
            _web_session, secret = await sessions.open_session(
                session, user, lifetime=timedelta(hours=settings.web_session_hours)
            )
    except Unauthorized:
        await limits.by_address.failed(address)
        await limits.by_email.failed(email)
        error = "The email or the password is wrong."
        return _sign_in_form(request, status=401, email=email, error=error)
    response = redirect(request, "/contacts")
    response.set_cookie(
        SESSION_COOKIE,
        (await signer(request)).sign(secret).decode(),
        max_age=settings.web_session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
        path=base_path(settings),
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=base_path(settings))
    return response


@router.post("/sign-out")
async def sign_out(request: Request, web: SessionForm, session: WriteSession) -> Response:
    await sessions.close_session(session, web.who.session.id)
    response = redirect(request, "/sign-in")
    response.delete_cookie(SESSION_COOKIE, path=base_path(get_settings(request)))
    return response


@router.get("/password", response_class=HTMLResponse)
async def password_page(request: Request, web: SessionPage) -> Response:
    return render(request, "password.html", web, errors={})


@router.post("/password", response_class=HTMLResponse)
async def change_password(request: Request, web: SessionForm, session: WriteSession) -> Response:
    """The signed-in user's new password (required after a one-time one)."""
    form = await request.form()
    new = form_text(form, "password")
    try:
        if new != form_text(form, "password_confirm"):
            raise FieldErrors.single("password_confirm", "mismatch", "does not match")
        await sessions.change_password(session, web.who, form_text(form, "current_password"), new)
    except FieldErrors as exc:
        return render(request, "password.html", web, status=422, errors=exc.messages())
    return redirect(request, "/contacts")


@router.post("/account")
async def switch_account(request: Request, web: SignedInForm, session: WriteSession) -> Response:
    """The account switcher: the header's select."""
    await sessions.switch_account(session, web.who, form_text(await request.form(), "account"))
    return redirect(request, "/contacts")


@router.get("/tokens", response_class=HTMLResponse)
async def tokens_page(request: Request, web: SignedInPage, session: ReadSession) -> Response:
    found = await accounts.list_tokens(session, account=web.account)
    return render(request, "tokens.html", web, tokens=found)


@router.post("/tokens", response_class=HTMLResponse)
async def create_token(request: Request, web: SignedInForm, session: WriteSession) -> Response:
    """Creates an account token; its secret is on this response only."""
    name = form_text(await request.form(), "name")
    try:
        token, secret = await accounts.create_token(session, account=web.account, name=name)
    except FieldErrors as exc:
        found = await accounts.list_tokens(session, account=web.account)
        return render(
            request, "tokens.html", web, status=422, tokens=found, errors=exc.messages(), name=name
        )
    found = await accounts.list_tokens(session, account=web.account)
    return render(request, "tokens.html", web, tokens=found, created=token, secret=secret)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(
    token_id: int, request: Request, web: SignedInForm, session: WriteSession
) -> Response:
    await accounts.revoke_token(session, token_id, account_id=web.account.id)
    return redirect(request, "/tokens")
