"""Pages of results, shared by every listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from nichandle.errors import FieldErrors

T = TypeVar("T")

MAX_PER_PAGE = 100
# Offsets must stay inside a 64-bit integer on every database.
MAX_PAGE = 2**31 - 1


@dataclass(frozen=True)
class PageRequest:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def page_request(page: int, per_page: int, *, max_per_page: int = MAX_PER_PAGE) -> PageRequest:
    if not 1 <= page <= MAX_PAGE:
        raise FieldErrors.single("page", "invalid", f"must be between 1 and {MAX_PAGE}")
    if not 1 <= per_page <= max_per_page:
        raise FieldErrors.single("per_page", "invalid", f"must be between 1 and {max_per_page}")
    return PageRequest(page, per_page)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    request: PageRequest

    @property
    def last_page(self) -> int:
        return max(1, -(-self.total // self.request.per_page))
