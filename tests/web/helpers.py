"""Signing in to the web UI from tests: a user with a password, a client with its cookies."""

from __future__ import annotations

import re
import secrets

import httpx

from nichandle.accounts import service as accounts
from nichandle.accounts import sessions
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def make_user(db: Database, *slugs: str, password: str = PASSWORD) -> str:
    """A new user, member of the accounts ``slugs``; returns the email."""
    email = f"user-{secrets.token_hex(4)}@example.com"
    async with unit_of_work(db) as session:
        for slug in slugs:
            account = await accounts.get_account(session, slug)
            await sessions.create_user(session, email, account, password)
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
