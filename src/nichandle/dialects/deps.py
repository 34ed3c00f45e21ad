"""Dependencies every dialect shares: the request's unit of work and authentication."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts import service as accounts
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.settings import Settings

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent; reads statement by
    statement where a transaction would hold no snapshot (PostgreSQL)."""
    db = get_database(request)
    read = request.method in READ_METHODS
    async with unit_of_work(db, write=not read, per_statement=read) as session:
        yield session


async def request_settings(request: Request) -> Settings:
    """get_settings as a dependency. A plain ``def`` dependency runs in a worker thread: a thread
    hop per request, 6% of a list page's CPU (bench/README.md, fourth pass)."""
    return get_settings(request)


SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(request_settings)]


def bearer_secret(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, secret = authorization.partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else None


async def authenticate_request(
    request: Request, session: AsyncSession, secret: str | None, *, team: str | None
) -> accounts.Authentication:
    """Authenticates and keeps last_used_at, written at most once a minute per token."""
    auth = await accounts.authenticate(
        session, secret, team=team, touch_after=_touch_after(request)
    )
    await keep_last_used(request, session, auth.token.id, needs_touch=auth.needs_touch)
    return auth


async def identify_request(
    request: Request, session: AsyncSession, secret: str | None
) -> accounts.Identity:
    """Authenticates without choosing an account (who am I, which accounts may I use)."""
    identity = await accounts.identify(session, secret, touch_after=_touch_after(request))
    await keep_last_used(request, session, identity.token.id, needs_touch=identity.needs_touch)
    return identity


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic base64(username:secret)``; None when absent or garbled."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, non-ASCII input
        return None
    username, colon, secret = decoded.partition(":")
    return (username, secret) if colon else None


async def authenticate_basic_request(
    request: Request,
    session: AsyncSession,
    credentials: tuple[str, str] | None,
    *,
    team: str | None,
) -> accounts.Authentication:
    """HTTP Basic ``username:token`` (accounts.authenticate_basic), keeping last_used_at."""
    username, secret = credentials or (None, None)
    auth = await accounts.authenticate_basic(
        session, username, secret, team=team, touch_after=_touch_after(request)
    )
    await keep_last_used(request, session, auth.token.id, needs_touch=auth.needs_touch)
    return auth


def _touch_after(request: Request) -> timedelta:
    return timedelta(seconds=get_settings(request).token_last_used_resolution_seconds)


async def keep_last_used(
    request: Request, session: AsyncSession, token_id: int, *, needs_touch: bool
) -> None:
    """Writes the token's last_used_at when stale; reads write it in a unit of work of their own,
    so they stay on the reader."""
    if not needs_touch:
        return
    if request.method in READ_METHODS:
        async with unit_of_work(get_database(request)) as writer:
            await accounts.record_token_use(writer, token_id)
    else:
        await accounts.record_token_use(session, token_id)
