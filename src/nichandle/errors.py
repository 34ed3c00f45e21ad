"""The one hierarchy of domain errors. Each dialect renders them in its own envelope."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field: a stable code for dialects, a message for people."""

    code: str
    message: str


class NichandleError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(NichandleError):
    code = "not_found"


class Conflict(NichandleError):
    code = "conflict"


class NotApplicable(NichandleError):
    """The request asks for something the record has no use for (a resend for a domain
    that needs no verification)."""

    code = "not_applicable"


class Unauthorized(NichandleError):
    code = "unauthorized"


class PolicyRefused(NichandleError):
    code = "policy_refused"


class FieldErrors(NichandleError):
    """Every field problem of one input at once, keyed by core field name (dotted when nested)."""

    code = "validation_failed"

    def __init__(self, problems: Mapping[str, Iterable[Problem]]) -> None:
        self.problems: dict[str, list[Problem]] = {k: list(v) for k, v in problems.items() if v}
        super().__init__("Validation failed")

    @classmethod
    def single(cls, field: str, code: str, message: str) -> FieldErrors:
        return cls({field: [Problem(code, message)]})

    def messages(self) -> dict[str, list[str]]:
        return {field: [p.message for p in problems] for field, problems in self.problems.items()}


class ErrorCollector:
    """Gathers problems across fields so validation reports everything at once."""

    def __init__(self) -> None:
        self.problems: dict[str, list[Problem]] = {}

    def add(self, field: str, code: str, message: str) -> None:
        self.problems.setdefault(field, []).append(Problem(code, message))

    def has(self, field: str) -> bool:
        return field in self.problems

    def raise_if_any(self) -> None:
        if self.problems:
            raise FieldErrors(self.problems)


class RetryLater(NichandleError):
    """Refused for now, not for good: the client may retry after ``retry_after`` seconds."""

    code = "retry_later"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)


class RateLimited(RetryLater):
    """Too many requests: failed authentications from one address, or a token's hourly quota."""

    code = "rate_limited"


class Unavailable(RetryLater):
    """The store cannot answer in time (SQLite's writer busy beyond its timeout)."""

    code = "unavailable"
