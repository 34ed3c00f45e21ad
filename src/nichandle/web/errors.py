"""Domain errors -> pages: not signed in goes to the sign-in page, the rest an error page."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

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
from nichandle.web.pages import PREFIX, CsrfRefused, PasswordChangeRequired, page, templates

STATUS = {
    NotFound: (404, "Not found"),
    Conflict: (409, "Not possible"),
    PolicyRefused: (403, "Not allowed"),
    CsrfRefused: (403, "Refused"),
    FieldErrors: (422, "Invalid input"),
    RateLimited: (429, "Too many attempts"),
    Unavailable: (503, "Busy"),
}


def render(exc: Exception) -> Response:
    if isinstance(exc, Unauthorized):
        return RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    if isinstance(exc, PasswordChangeRequired):
        return RedirectResponse(f"{PREFIX}/password", status_code=303)
    status, title, message = 500, "Something went wrong", "An unexpected error; it is logged."
    if isinstance(exc, NichandleError):
        status, title = STATUS.get(type(exc), (400, "Refused"))
        message = exc.message
        if isinstance(exc, FieldErrors):
            message = "; ".join(
                f"{field}: {', '.join(found)}" for field, found in exc.messages().items()
            )
    elif isinstance(exc, RequestValidationError):
        status, title = 422, "Invalid input"
        message = "; ".join(str(e.get("msg", "")) for e in exc.errors())
    elif isinstance(exc, HTTPException):
        status, title, message = exc.status_code, "Not found", str(exc.detail)
    html = templates.get_template("error.html").render(
        ui=PREFIX, web=None, title=title, message=message, status=status
    )
    response = page(html, status)
    if isinstance(exc, RetryLater):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response
