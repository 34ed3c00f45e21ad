"""The ASGI application: one store, its dialects, and the checks around every request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nichandle.db.engine import create_database
from nichandle.dialects.dnsimple import errors as dnsimple_errors
from nichandle.dialects.dnsimple.routes import router as dnsimple_router
from nichandle.dialects.errors import install_error_handlers
from nichandle.dialects.namecom import errors as namecom_errors
from nichandle.dialects.namecom.routes import router as namecom_router
from nichandle.dialects.native import errors as native_errors
from nichandle.dialects.native.routes import router as native_router
from nichandle.settings import Settings


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuses bodies over the limit with 413, whether or not they announce their length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_bytes
        message = f"The request body is larger than the limit of {limit} bytes"
        await JSONResponse({"message": message}, status_code=413)(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    db = create_database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await db.dispose()

    app = FastAPI(
        title="nichandle",
        version=version("nichandle"),
        summary="Registrar contacts (handles): one store, three API dialects.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    install_error_handlers(
        app,
        [
            ("/api/v1", native_errors.render),
            ("/v2", dnsimple_errors.render),
            ("/core/v1", namecom_errors.render),
        ],
        fallback=native_errors.render,
    )
    app.include_router(native_router)
    app.include_router(dnsimple_router)
    app.include_router(namecom_router)

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
