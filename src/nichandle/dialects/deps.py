"""Dependencies every dialect shares: the request's unit of work and authentication."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Request
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts import service as accounts
from nichandle.accounts.models import ApiToken
from nichandle.db.engine import Database, is_busy
from nichandle.db.session import unit_of_work
from nichandle.dialects.ratelimit import Limits, client_address
from nichandle.errors import Unauthorized
from nichandle.settings import Settings

# Where authentication leaves the token's counted quota for the /v2 headers (request.state).
QUOTA_STATE = "nichandle_quota"


class _Authenticated(Protocol):
    @property
    def token(self) -> ApiToken: ...
    @property
    def needs_touch(self) -> bool: ...


Authenticated = TypeVar("Authenticated", bound=_Authenticated)


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_limits(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A route that only reads: statement by statement where a transaction would hold no
    snapshot (PostgreSQL). Anything it tries to write fails (db.session.ReadOnlySession)."""
    async with unit_of_work(get_database(request), write=False, per_statement=True) as session:
        yield session


async def write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A route that writes: one transaction, committed before the response is sent."""
    async with unit_of_work(get_database(request)) as session:
        yield session


async def request_settings(request: Request) -> Settings:
    """get_settings as a dependency. A plain ``def`` dependency runs in a worker thread: a thread
    hop per request, 6% of a list page's CPU (bench/README.md, fourth pass)."""
    return get_settings(request)


# Each route says which it needs, whatever its HTTP method (a page may write on a GET).
ReadSession = Annotated[AsyncSession, Depends(read_session, scope="function")]
WriteSession = Annotated[AsyncSession, Depends(write_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(request_settings)]


def actor_for(request: Request, auth: accounts.Authentication, dialect: str) -> accounts.Actor:
    """The authenticated token acting through a dialect, in this request (its events carry the
    request id, app.RequestId)."""
    request_id = request.scope.get("state", {}).get("request_id")
    return accounts.Actor(auth.account.id, auth.token.id, dialect, request_id=request_id)


def bearer_secret(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, secret = authorization.partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else None


async def authenticate_request(
    request: Request, secret: str | None, *, team: str | None
) -> accounts.Authentication:
    """Authenticates a bearer secret (rate limited, see _limited), keeping last_used_at."""
    return await _limited(
        request,
        lambda session: accounts.authenticate(
            session, secret, team=team, touch_after=_touch_after(request)
        ),
        presented=bool(secret),
    )


async def identify_request(request: Request, secret: str | None) -> accounts.Identity:
    """Authenticates without choosing an account (who am I, which accounts may I use)."""
    return await _limited(
        request,
        lambda session: accounts.identify(session, secret, touch_after=_touch_after(request)),
        presented=bool(secret),
    )


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
    request: Request, credentials: tuple[str, str] | None, *, team: str | None
) -> accounts.Authentication:
    """HTTP Basic ``username:token`` (accounts.authenticate_basic), rate limited, keeping
    last_used_at."""
    username, secret = credentials or (None, None)
    return await _limited(
        request,
        lambda session: accounts.authenticate_basic(
            session, username, secret, team=team, touch_after=_touch_after(request)
        ),
        presented=bool(username and secret),
    )


async def _limited(
    request: Request,
    authenticate: Callable[[AsyncSession], Awaitable[Authenticated]],
    *,
    presented: bool,
) -> Authenticated:
    """Authentication between the two limits: an address that failed too often is refused
    before its credentials are looked at, and a token past its hourly quota after.

    It reads in a unit of its own, over before the route's session starts: a route's session
    is the one its handler chose (ReadSession or WriteSession), whoever authenticated.

    Only credentials that were sent and refused count as failures: a request without any
    guesses nothing. The quota counts authenticated tokens only, by their stored hash.
    """
    limits = get_limits(request)
    address = client_address(request.scope)
    await limits.failures.check(address)
    db = get_database(request)
    try:
        async with unit_of_work(db, write=False, per_statement=True) as session:
            auth = await authenticate(session)
    except Unauthorized:
        if presented:
            await limits.failures.failed(address)
        raise
    quota = await limits.quota.hit(auth.token.token_hash)
    setattr(request.state, QUOTA_STATE, quota)
    if quota.exceeded:
        raise limits.quota.refuse(quota)
    if auth.needs_touch:
        await _touch_if_writer_free(db, auth.token.id)
    return auth


def _touch_after(request: Request) -> timedelta:
    return timedelta(seconds=get_settings(request).token_last_used_resolution_seconds)


async def _touch_if_writer_free(db: Database, token_id: int) -> None:
    """Writes the token's last_used_at, in a transaction of its own. On SQLite a request would
    otherwise queue behind every write in flight (one writer connection) and behind other
    processes' write locks (up to the busy timeout) for a timestamp kept to the minute: when the
    writer is taken, the touch is skipped, and the token, still stale, is touched by a later
    request."""
    if not db.writer_is_free():
        return
    try:
        async with db.writer_sessions_without_waiting() as writer:
            await accounts.record_token_use(writer, token_id)
            await writer.commit()
    except OperationalError as exc:
        if not is_busy(exc):
            raise
