"""Routes every error to the envelope of the dialect whose path it came through."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from nichandle.errors import NichandleError

Renderer = Callable[[Exception], Response]


def install_error_handlers(
    app: FastAPI, renderers: list[tuple[str, Renderer]], fallback: Renderer
) -> None:
    """``renderers``: (path prefix, renderer) pairs; the longest matching prefix wins."""
    ordered = sorted(renderers, key=lambda pair: len(pair[0]), reverse=True)

    async def handle(request: Request, exc: Exception) -> Response:
        path = request.url.path
        for prefix, render in ordered:
            if path == prefix or path.startswith(prefix + "/"):
                return render(exc)
        return fallback(exc)

    # Exception: unexpected failures too answer in the dialect's JSON envelope (clients parse
    # every error body); Starlette still logs and re-raises them after the response.
    for kind in (NichandleError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(kind, handle)
