"""Declarative base, naming convention and the column types that behave alike on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from nichandle import clock

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONVariant = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always returns aware UTC datetimes (SQLite would drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if type(value) is datetime and value.tzinfo is UTC:  # asyncpg's, every row
            return value
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if not isinstance(moment, datetime):  # pragma: no cover - drivers return datetimes
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


def state_column(states: type[StrEnum], name: str) -> Enum:
    """A VARCHAR(20) holding an enum's values, with a CHECK named ck_<table>_<name>; never a
    native PostgreSQL enum (no PostgreSQL-only types, and its values cannot change in a
    transaction)."""
    return Enum(
        states,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [member.value for member in members],
    )


# The __table_args__ of every table whose integer ids go on the wire or into history and the
# outbox. Without AUTOINCREMENT SQLite gives a new row max(id) + 1, so deleting the newest row
# frees its id: a client retrying `DELETE .../contacts/82` would delete the next contact 82, and
# history rows of the two would read as one. PostgreSQL's sequences never hand out an id twice.
NO_ID_REUSE: dict[str, Any] = {"sqlite_autoincrement": True}

# Ids are INTEGER columns (32-bit on PostgreSQL): larger ones can name no row, and must not
# reach SQL, where they are an error rather than no row.
MAX_ID = 2**31 - 1


def parse_id(value: int | str) -> int | None:
    """An id as a URL or filter gives it, or None when it can name no row."""
    text = str(value)
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def utcnow() -> datetime:
    """Now, from the one injectable clock (nichandle.clock): column defaults and rules alike."""
    return clock.now()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
