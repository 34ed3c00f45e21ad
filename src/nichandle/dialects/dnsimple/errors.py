"""Every error under /v2 -> DNSimple's envelope: ``{"message": ..., "errors": {field: [...]}}``.

DNSimple answers validation problems with 400 (not 422) and uses Rails' wording; the official
client reads ``message`` and ``errors`` from any 4xx/5xx body, which must therefore be JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from nichandle.dialects.dnsimple.schemas import wire_field
from nichandle.errors import (
    Conflict,
    FieldErrors,
    NotApplicable,
    NotFound,
    PolicyRefused,
    Problem,
    RateLimited,
    RetryLater,
    Unauthorized,
)

VALIDATION_FAILED = "Validation failed"
BLANK = "can't be blank"
INVALID_EMAIL = "is an invalid email address"
INVALID_PHONE = "is probably not a phone number"
IN_USE = "The contact cannot be deleted because it's currently in use"
AUTHENTICATION_FAILED = "Authentication failed"
QUOTA_EXCEEDED = "quota exceeded"
SERVER_ERROR = "Internal server error"
NOT_JSON = "The request body is not valid JSON"
NOT_JSON_FIELD = "is not valid JSON"

# Rails answers a blank email or phone with both the blank and the format message (fixture).
_ALSO_WHEN_BLANK = {"email": INVALID_EMAIL, "phone": INVALID_PHONE, "fax": INVALID_PHONE}


def _messages(field: str, problems: Sequence[Problem]) -> list[str]:
    messages: list[str] = []
    for problem in problems:
        if problem.code == "blank":
            messages.append(BLANK)
            if field in _ALSO_WHEN_BLANK:
                messages.append(_ALSO_WHEN_BLANK[field])
        elif problem.code == "invalid_email":
            messages.append(INVALID_EMAIL)
        elif problem.code == "invalid_phone":
            messages.append(INVALID_PHONE)
        else:
            messages.append(problem.message)
    return messages


def field_errors(exc: FieldErrors) -> dict[str, list[str]]:
    """Core problems under DNSimple's field names and wording, keys sorted as DNSimple does."""
    errors: dict[str, list[str]] = {}
    for core, problems in exc.problems.items():
        field = wire_field(core)
        for message in _messages(field, problems):
            if message not in errors.setdefault(field, []):
                errors[field].append(message)
    return dict(sorted(errors.items()))


def _loc_field(loc: Sequence[int | str]) -> str:
    # ("body", "label") -> "label"; ("body",) -> "body"; ("query", "page") -> "page"
    parts = [str(part) for part in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts) or "body"


def request_errors(exc: RequestValidationError) -> tuple[str, dict[str, list[str]]]:
    """Malformed JSON, a body that is no object, wrong types, unknown fields, bad parameters."""
    errors: dict[str, list[str]] = {}
    message = VALIDATION_FAILED
    for error in exc.errors():
        kind = error.get("type")
        field = _loc_field(error.get("loc", ()))
        if kind == "json_invalid":
            message, field, text = NOT_JSON, "body", NOT_JSON_FIELD
        elif kind in ("model_attributes_type", "dict_type", "model_type"):
            text = "must be a JSON object"
        elif kind == "missing":
            text = BLANK
        elif kind == "extra_forbidden":
            text = "is not a known field"
        else:
            text = str(error.get("msg", "is invalid"))
        if text not in errors.setdefault(field, []):
            errors[field].append(text)
    return message, dict(sorted(errors.items()))


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def render(exc: Exception) -> Response:
    """The one place an exception becomes a DNSimple error response."""
    if isinstance(exc, RequestValidationError):
        message, errors = request_errors(exc)
        return _json({"message": message, "errors": errors}, 400)
    if isinstance(exc, FieldErrors):
        return _json({"message": VALIDATION_FAILED, "errors": field_errors(exc)}, 400)
    if isinstance(exc, Unauthorized):
        return _json({"message": AUTHENTICATION_FAILED}, 401, {"WWW-Authenticate": "Bearer"})
    if isinstance(exc, NotFound):
        # DNSimple calls teams accounts.
        message = exc.message
        if exc.code == "account_not_found" and message.startswith("Team "):
            message = "Account " + message.removeprefix("Team ")
        return _json({"message": message}, 404)
    if isinstance(exc, Conflict):
        # DNSimple refuses deletes with 400; the in-use wording is the fixture's.
        return _json({"message": IN_USE if exc.code == "contact_in_use" else exc.message}, 400)
    if isinstance(exc, NotApplicable):  # nothing to do (the registrant already, say)
        return _json({"message": exc.message}, 400)
    if isinstance(exc, PolicyRefused):
        return _json({"message": exc.message}, 403)
    if isinstance(exc, RetryLater):
        # DNSimple's own words for a spent hour; ours for the rest (failed logins, a busy store).
        message = QUOTA_EXCEEDED if exc.code == "quota_exceeded" else exc.message
        status = 429 if isinstance(exc, RateLimited) else 503
        return _json({"message": message}, status, {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, HTTPException):
        if exc.status_code == 405:
            # As DNSimple answers it (fixture method-not-allowed): no body, an Allow header.
            return Response(status_code=405, headers=exc.headers)
        if exc.status_code == 400:
            # FastAPI's own 400 is a body it could not even decode (not UTF-8, say); every
            # DNSimple 400 carries ``errors``.
            return _json({"message": NOT_JSON, "errors": {"body": [NOT_JSON_FIELD]}}, 400)
        return _json({"message": str(exc.detail)}, exc.status_code, dict(exc.headers or {}))
    return server_error()


def server_error() -> Response:
    """Any unexpected failure: JSON, so the client raises its own exception, not a decode error."""
    return _json({"message": SERVER_ERROR}, 500)
