"""Domain errors -> Domain Chief's envelope: {"message": ..., "errors": {field: [messages]}}."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from nichandle.errors import (
    Conflict,
    FieldErrors,
    NotApplicable,
    NotFound,
    PolicyRefused,
    RateLimited,
    RetryLater,
    Unauthorized,
    Unavailable,
)

STATUS = {
    NotApplicable: 400,
    NotFound: 404,
    Conflict: 409,
    Unauthorized: 401,
    PolicyRefused: 403,
    FieldErrors: 422,
    RateLimited: 429,
    Unavailable: 503,
}


def _field_name(loc: Sequence[int | str]) -> str:
    # ("body", "metadata", "key") -> "metadata.key"; ("query", "page") -> "page"
    parts = [str(part) for part in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts) or "body"


def request_validation_errors(exc: RequestValidationError) -> tuple[int, dict[str, Any]]:
    """Pydantic's errors as field -> messages; malformed JSON is a 400 of its own."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return 400, {"message": "The request body is not valid JSON"}
        message = str(error.get("msg", "is invalid"))
        if error.get("type") == "extra_forbidden":
            message = "is not a known field"
        elif error.get("type") == "value_error":
            message = str(error.get("ctx", {}).get("error", message))
        errors.setdefault(_field_name(error.get("loc", ())), []).append(message)
    return 422, {"message": "Validation failed", "errors": errors}


def render(exc: Exception) -> Response:
    if isinstance(exc, RequestValidationError):
        status, body = request_validation_errors(exc)
        return JSONResponse(body, status_code=status)
    if isinstance(exc, FieldErrors):
        return JSONResponse({"message": exc.message, "errors": exc.messages()}, status_code=422)
    if isinstance(exc, HTTPException):
        return JSONResponse(
            {"message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            if isinstance(exc, RetryLater):
                headers = {"Retry-After": str(exc.retry_after)}
            message = getattr(exc, "message", str(exc))
            return JSONResponse({"message": message}, status_code=status, headers=headers)
    return JSONResponse({"message": "Internal server error"}, status_code=500)
