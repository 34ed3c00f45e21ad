"""The ASGI application: one store, its dialects, and the checks around every request."""

from __future__ import annotations

import gc
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from nichandle import write_path
from nichandle.db.engine import create_database
from nichandle.dialects.dnsimple import errors as dnsimple_errors
from nichandle.dialects.dnsimple.ratelimit import DnsimpleRateLimit
from nichandle.dialects.dnsimple.registrant_changes import (
    router as dnsimple_registrant_changes_router,
)
from nichandle.dialects.dnsimple.routes import router as dnsimple_router
from nichandle.dialects.dnsimple.webhooks import router as dnsimple_webhooks_router
from nichandle.dialects.errors import install_error_handlers
from nichandle.dialects.namecom import errors as namecom_errors
from nichandle.dialects.namecom.routes import router as namecom_router
from nichandle.dialects.namecom.webhooks import router as namecom_webhooks_router
from nichandle.dialects.native import errors as native_errors
from nichandle.dialects.native.events import router as native_events_router
from nichandle.dialects.native.registrant_changes import (
    router as native_registrant_changes_router,
)
from nichandle.dialects.native.routes import router as native_router
from nichandle.dialects.native.webhooks import router as native_webhooks_router
from nichandle.dialects.ratelimit import Limits
from nichandle.settings import Settings
from nichandle.web import errors as web_errors
from nichandle.web import routes as web
from nichandle.web.pages import PREFIX as WEB_PREFIX
from nichandle.worker import loop as worker


class RequestGuard:
    """Refuses, before any dialect sees them, requests no database could answer: bodies over the
    size limit (413, announced or streamed) and NUL bytes in the URL (400; PostgreSQL text cannot
    hold them)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]:
            await _refuse(scope, receive, send, 400, "NUL bytes are not allowed in URLs")
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        # Read the body here, bounded, and replay it: a body that turns out too large while
        # the app reads it could no longer be answered with a clean 413.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, _replay(chunks, None, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"The request body is larger than the limit of {self.max_bytes} bytes"
        await _refuse(scope, receive, send, 413, message)


class RequestId:
    """Names every request: the client's X-Request-Id when it is a plain token (letters,
    digits, ``-_.:``, up to 64), else a new UUID. Echoed in the response; the events a request
    causes carry it, so a change can be traced from a client's log to every delivery."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _replay(chunks: list[bytes], final: Message | None, then: Receive | None = None) -> Receive:
    body = b"".join(chunks)
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if final is not None:
            return final
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        assert then is not None  # noqa: S101 - set whenever final is None
        return await then()  # after the body: wait for the disconnect, as servers do

    return receive


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    await JSONResponse({"message": message}, status_code=status)(scope, receive, send)


def create_app(settings: Settings | None = None, *, outbox_worker: bool = False) -> FastAPI:
    """The app; with ``outbox_worker`` it also runs an outbox worker for its lifetime."""
    settings = settings or Settings()
    write_path.connect(settings)
    db = create_database(settings)
    limits = Limits(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What start-up made (modules, mappers, schemas: ~130k objects) lives as long as the
        # process; frozen, the collector no longer walks it in every full collection. Those
        # took up to 60 ms, stalling every request in flight, and set the p99 at concurrency
        # 32 (a get's 96 -> 41 ms, bench/README.md).
        gc.collect()
        gc.freeze()
        async with AsyncExitStack() as stack:
            if outbox_worker:
                await stack.enter_async_context(worker.running(db, settings))
            yield
        await limits.close()
        await db.dispose()

    app = FastAPI(
        title="nichandle",
        version=version("nichandle"),
        summary="Registrar contacts (handles): one store, three API dialects.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.limits = limits
    app.add_middleware(RequestGuard, max_bytes=settings.max_body_bytes)
    # Added after RequestGuard, so outside it: its X-RateLimit headers reach every /v2
    # response, 413 included.
    app.add_middleware(DnsimpleRateLimit, quota=limits.quota)
    app.add_middleware(RequestId)
    if settings.trusted_proxies:
        # Outermost: the client address every limit counts is the one the trusted proxy saw.
        # `serve` turns uvicorn's own reading of the header off, so this setting alone decides.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    install_error_handlers(
        app,
        [
            ("/api/v1", native_errors.render),
            ("/v2", dnsimple_errors.render),
            ("/core/v1", namecom_errors.render),
            (WEB_PREFIX, web_errors.render),
        ],
        fallback=native_errors.render,
    )
    app.include_router(native_router)
    app.include_router(native_events_router)
    app.include_router(native_webhooks_router)
    app.include_router(native_registrant_changes_router)
    app.include_router(dnsimple_router)
    app.include_router(dnsimple_registrant_changes_router)
    app.include_router(dnsimple_webhooks_router)
    app.include_router(namecom_router)
    app.include_router(namecom_webhooks_router)
    web.install(app, settings)

    @app.get("/healthz", tags=["health"])
    async def healthz(request: Request) -> JSONResponse:
        """200 when the database answers."""
        try:
            async with db.reader.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to reach the database is "unhealthy"
            return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, 503)
        return JSONResponse({"status": "ok"})

    return app


def app_from_environment() -> FastAPI:
    """Factory for uvicorn (one per worker process): settings from NICHANDLE_* variables."""
    return create_app(Settings())


def app_with_worker_from_environment() -> FastAPI:
    """As app_from_environment, with an outbox worker in the process (`nichandle serve`)."""
    return create_app(Settings(), outbox_worker=True)
