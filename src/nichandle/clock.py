"""The one source of "now". Every rule and every timestamp asks it, so tests move time (15-day
verification deadlines, 60-day transfer locks) instead of sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """Stands still until moved: ``advance`` is how a test lets days pass."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a frozen clock needs an aware datetime")
        self.at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


_clock: Clock = SystemClock()


def now() -> datetime:
    """The current time, aware and in UTC."""
    return _clock.now()


@contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    """Makes ``clock`` the source of now for the block (process-wide: tests run one at a time)."""
    global _clock
    previous, _clock = _clock, clock
    try:
        yield clock
    finally:
        _clock = previous
