"""Dependencies every dialect shares: the request's unit of work and bearer authentication."""

from __future__ import annotations

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
    """One transaction per request, committed before the response is sent."""
    db = get_database(request)
    async with unit_of_work(db, write=request.method not in READ_METHODS) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def bearer_secret(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, secret = authorization.partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else None


async def authenticate_request(
    request: Request, session: AsyncSession, secret: str | None, *, team: str | None
) -> accounts.Authentication:
    """Authenticates and keeps last_used_at, written at most once a minute per token."""
    settings = get_settings(request)
    auth = await accounts.authenticate(
        session,
        secret,
        team=team,
        touch_after=timedelta(seconds=settings.token_last_used_resolution_seconds),
    )
    if auth.needs_touch:
        if request.method in READ_METHODS:
            async with unit_of_work(get_database(request)) as writer:
                await accounts.record_token_use(writer, auth.token.id)
        else:
            await accounts.record_token_use(session, auth.token.id)
    return auth
