"""Routes every error to the envelope of the dialect whose path it came through."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import compile_path

from nichandle.db.engine import is_busy
from nichandle.errors import NichandleError, Unavailable

# A busy store clears in moments: retry after a second.
BUSY_RETRY_AFTER_SECONDS = 1

Renderer = Callable[[Exception], Response]


def install_error_handlers(
    app: FastAPI, renderers: list[tuple[str, Renderer]], fallback: Renderer
) -> None:
    """``renderers``: (path prefix, renderer) pairs; the longest matching prefix wins."""
    ordered = sorted(renderers, key=lambda pair: len(pair[0]), reverse=True)

    async def handle(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException) and exc.status_code == 405:
            headers = exc.headers or {}
            exc.headers = {**headers, "Allow": allowed_methods(request, headers.get("Allow", ""))}
        path = request.url.path
        for prefix, render in ordered:
            if path == prefix or path.startswith(prefix + "/"):
                return render(exc)
        return fallback(exc)

    async def handle_operational(request: Request, exc: Exception) -> Response:
        """SQLite busy beyond its timeout is a 503 to retry; any other OperationalError goes on
        to the 500 below, logged."""
        if isinstance(exc, OperationalError) and is_busy(exc):
            busy = Unavailable(
                "The database is busy; retry shortly", retry_after=BUSY_RETRY_AFTER_SECONDS
            )
            return await handle(request, busy)
        raise exc

    # Exception: unexpected failures too answer in the dialect's JSON envelope (clients parse
    # every error body); Starlette still logs and re-raises them after the response.
    for kind in (NichandleError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(kind, handle)
    app.add_exception_handler(OperationalError, handle_operational)


def allowed_methods(request: Request, starlettes: str) -> str:
    """The methods of the request's path, as the OpenAPI documents them. Starlette's 405 names
    those of the first route whose path matched, and FastAPI has a route per method: ``Allow:
    GET`` where ``DELETE, GET, PATCH`` is true. Where a literal path and a template both match
    (``/contacts/list``, ``/contacts/{handle}``), the literal one's. A path the OpenAPI leaves
    out keeps Starlette's answer."""
    paths: dict[str, dict[str, object]] = request.app.openapi()["paths"]  # built once, cached
    path = request.url.path
    matching = [t for t in paths if compile_path(t)[0].match(path)]
    if not matching:
        return starlettes
    template = min(matching, key=lambda t: t.count("{"))
    return ", ".join(sorted(method.upper() for method in paths[template]))
