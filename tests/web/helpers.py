"""Signing in to the web UI from tests: a user with a password, a client with its cookies."""

from __future__ import annotations

import re
import secrets

import httpx

from nichandle.accounts import service as accounts
from nichandle.accounts import sessions
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from tests.test_live_server import LiveServer

PASSWORD = "correct horse battery staple"
# The user `nichandle serve` makes on a fresh database (cli._bootstrap).
FIRST_USER = "admin@nichandle.test"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def make_user(
    db: Database, *slugs: str, password: str = PASSWORD, one_time: bool = False
) -> str:
    """A new user, member of the accounts ``slugs``; returns the email."""
    email = f"user-{secrets.token_hex(4)}@example.com"
    async with unit_of_work(db) as session:
        for slug in slugs:
            account = await accounts.get_account(session, slug)
            await sessions.create_user(session, email, account, password, one_time=one_time)
    return email


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, html[:2000]
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Signs ``http`` in; returns the session's CSRF token."""
    form = await http.get("/ui/sign-in")
    response = await http.post(
        "/ui/sign-in",
        data={"csrf_token": csrf_of(form.text), "email": email, "password": password},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].endswith("/ui/contacts")
    page = await http.get("/ui/contacts")
    assert page.status_code == 200
    return csrf_of(page.text)


def first_credentials(live: LiveServer) -> tuple[str, str]:
    """The API token and the first user's password `serve` printed for the fresh database."""
    lines = live.stdout.read_text().splitlines()
    token = lines[lines.index(next(x for x in lines if "first API token" in x)) + 1]
    password = lines[lines.index(next(x for x in lines if "Web UI: sign in" in x)) + 1]
    return token.strip(), password.strip()


async def sign_in_first_user(http: httpx.AsyncClient, live: LiveServer) -> str:
    """Signs in as the first user with its one-time password, then chooses ``PASSWORD``;
    returns the session's CSRF token."""
    _token, one_time = first_credentials(live)
    form = await http.get("/ui/sign-in")
    signed = await http.post(
        "/ui/sign-in",
        data={"csrf_token": csrf_of(form.text), "email": FIRST_USER, "password": one_time},
    )
    assert signed.status_code == 303, signed.text
    page = await http.get("/ui/contacts")
    assert page.headers["location"].endswith("/ui/password")
    csrf = csrf_of((await http.get("/ui/password")).text)
    chosen = await http.post(
        "/ui/password",
        data={
            "csrf_token": csrf,
            "current_password": one_time,
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
    )
    assert chosen.status_code == 303, chosen.text
    return csrf
