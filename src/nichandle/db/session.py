"""Units of work: one transaction per request or command, committed at the boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.db.engine import Database
from nichandle.errors import Conflict


@dataclass(frozen=True)
class UniqueRule:
    """A named unique constraint and the conflict users see when it is hit."""

    constraint: str
    sqlite_columns: str  # SQLite names the columns, not the index: "contact.account_id, ..."
    code: str
    message: str


UNIQUE_RULES = (
    UniqueRule(
        "uq_contact_account_id_dedup_fingerprint",
        "contact.account_id, contact.dedup_fingerprint",
        "contact_duplicate",
        "An identical contact was created at the same time",
    ),
    UniqueRule("uq_account_slug", "account.slug", "account_slug_taken", "This slug is taken"),
    UniqueRule("uq_app_user_email", "app_user.email", "user_email_taken", "This email is taken"),
    UniqueRule(
        "uq_contact_account_id_handle",
        "contact.account_id, contact.handle",
        "contact_handle_taken",
        "This handle is already in use",
    ),
    UniqueRule(
        "uq_contact_default",
        "contact.account_id",
        "contact_default_conflict",
        "Another request changed the default contact at the same time; retry",
    ),
)

_SQLITE_PREFIX = "UNIQUE constraint failed: "


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the unique constraint an IntegrityError hit, on either database."""
    text = str(exc.orig)
    for rule in UNIQUE_RULES:
        if rule.constraint in text:
            return rule.constraint
        if (
            _SQLITE_PREFIX in text
            and text.split(_SQLITE_PREFIX, 1)[1].strip() == rule.sqlite_columns
        ):
            return rule.constraint
    return None


def translate_integrity_error(exc: IntegrityError) -> Exception:
    """The one place a unique-constraint violation becomes a Conflict."""
    name = violated_constraint(exc)
    for rule in UNIQUE_RULES:
        if rule.constraint == name:
            return Conflict(rule.message, code=rule.code)
    return exc


@asynccontextmanager
async def unit_of_work(
    db: Database, *, write: bool = True, per_statement: bool = False
) -> AsyncIterator[AsyncSession]:
    """Commits when the block succeeds, rolls back when it raises. ``write=False`` reads in one
    transaction; ``per_statement=True`` reads without one where that is the same
    (Database.statement_reader)."""
    if write:
        sessions = db.writer_sessions
    else:
        sessions = db.statement_reader_sessions if per_statement else db.reader_sessions
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except IntegrityError as exc:
            await session.rollback()
            translated = translate_integrity_error(exc)
            if translated is exc:
                raise
            raise translated from exc
        except BaseException:
            await session.rollback()
            raise
