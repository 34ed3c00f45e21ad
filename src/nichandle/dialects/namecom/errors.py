"""Domain errors -> name.com's envelope: {"message": ..., "details": ...}."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from nichandle.dialects.namecom.schemas import wire_field
from nichandle.errors import (
    Conflict,
    FieldErrors,
    NichandleError,
    NotFound,
    PolicyRefused,
    RateLimited,
    RetryLater,
    Unauthorized,
    Unavailable,
)

UNSUPPORTED_MEDIA_TYPE = "The 'Content-Type' header must be 'application/json' for this request."
DOMAIN_NOT_FOUND = "The requested domain does not exist."
INVALID_ARGUMENT = "Invalid argument"

# name.com's messages per status (its OpenAPI examples); details say what exactly.
MESSAGES = {
    400: INVALID_ARGUMENT,
    401: "Unauthenticated",
    403: "Permission Denied",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    415: UNSUPPORTED_MEDIA_TYPE,
    429: "Rate Limit Exceeded",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
STATUS: dict[type[NichandleError], int] = {
    FieldErrors: 400,
    Unauthorized: 401,
    PolicyRefused: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
    Unavailable: 503,
}


def _location(loc: Sequence[int | str]) -> str:
    # ("body", "contacts", "admin", "phone") -> "contacts.admin.phone"; ("query", "page") -> "page"
    return ".".join(str(part) for part in loc[1:])


def _problem(error: Any) -> str:
    if error.get("type") == "json_invalid":
        return "The request body is not valid JSON"
    kind = error.get("type")
    message = "is required" if kind == "missing" else str(error.get("msg", "is invalid"))
    if kind == "extra_forbidden":
        message = "is not a known field"
    where = _location(error.get("loc", ()))
    return f"{where}: {message}" if where else message


def request_problems(exc: RequestValidationError) -> str:
    """Pydantic's errors, one ``field: message`` each; malformed JSON is said once, alone."""
    problems = [_problem(error) for error in exc.errors()]
    return "; ".join(dict.fromkeys(problems))


def field_problems(exc: FieldErrors) -> str:
    """``contacts.registrant.phone: is not a possible phone number in US; contacts.admin: ...``"""
    lines: Iterable[str] = (
        f"{wire_field(field)}: {problem.message}"
        for field, problems in exc.problems.items()
        for problem in problems
    )
    return "; ".join(dict.fromkeys(lines))


def _json(
    status: int, details: str | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    body: dict[str, str] = {"message": MESSAGES.get(status, "Error")}
    if details is not None and status != 415:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def render(exc: Exception) -> Response:
    if isinstance(exc, RequestValidationError):
        return _json(400, request_problems(exc))
    if isinstance(exc, FieldErrors):
        return _json(400, field_problems(exc))
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return _json(404, "The requested resource does not exist.")
        return _json(exc.status_code, str(exc.detail), exc.headers)
    if isinstance(exc, NichandleError):
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
        if status == 401:
            return _json(401, exc.message, {"WWW-Authenticate": 'Basic realm="nichandle"'})
        if exc.code == "domain_not_found":
            return _json(404, DOMAIN_NOT_FOUND)
        if isinstance(exc, RetryLater):
            return _json(status, exc.message, {"Retry-After": str(exc.retry_after)})
        return _json(status, exc.message)
    return _json(500, "The server could not complete the request.")
