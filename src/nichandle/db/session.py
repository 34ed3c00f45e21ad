"""Units of work: one transaction per request or command, committed at the boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

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
        "uq_domain_account_id_name",
        "domain.account_id, domain.name",
        "domain_exists",
        "The domain is already in this account",
    ),
    UniqueRule(
        "uq_contact_default",
        "contact.account_id",
        "contact_default_conflict",
        "Another request changed the default contact at the same time; retry",
    ),
    UniqueRule(
        "uq_registrant_change_pending_domain",
        "registrant_change.domain_id",
        "registrant_change_conflict",
        "Another change of this domain's registrant was requested at the same time; retry",
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


# SQLSTATEs of the failures a concurrent transaction causes (PostgreSQL; SQLite's single writer
# has none of them): the writes take their locks in one order (docs/decisions.md,
# "Concurrency"), so these are the exception; the client is told to retry, never shown a 500.
_FOREIGN_KEY_VIOLATION = "23503"
_CONCURRENCY_FAILURES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def concurrent_change() -> Conflict:
    return Conflict(
        "Another request changed the same records at the same time; retry",
        code="concurrent_change",
    )


def _sqlstate(exc: DBAPIError) -> str | None:
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return state if isinstance(state, str) else None


def translate_integrity_error(exc: IntegrityError) -> Exception:
    """The one place a constraint violation becomes a Conflict: a named unique constraint as its
    rule says, a foreign key (a record that another request deleted meanwhile) as a retry."""
    name = violated_constraint(exc)
    for rule in UNIQUE_RULES:
        if rule.constraint == name:
            return Conflict(rule.message, code=rule.code)
    if _sqlstate(exc) == _FOREIGN_KEY_VIOLATION:
        return concurrent_change()
    return exc


def translate_database_error(exc: DBAPIError) -> Exception:
    """What a failed statement means to the client (called at the unit of work's boundary)."""
    if isinstance(exc, IntegrityError):
        return translate_integrity_error(exc)
    if _sqlstate(exc) in _CONCURRENCY_FAILURES:
        return concurrent_change()
    return exc


# Sessions opened to read carry this in Session.info: a write through one is a bug (on
# PostgreSQL the statement reader would even commit it on its own), so it fails at once.
READ_ONLY = "nichandle_read_only"


class ReadOnlySession(RuntimeError):
    """A write attempted in a unit of work opened to read."""


@event.listens_for(Session, "before_flush")
def _refuse_flush(session: Session, _context: object, _instances: object) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise ReadOnlySession(
            "a write in a unit of work opened to read (unit_of_work(write=False))"
        )


@event.listens_for(Session, "do_orm_execute")
def _refuse_statement(state: ORMExecuteState) -> None:
    if state.session.info.get(READ_ONLY) and (
        state.is_insert or state.is_update or state.is_delete
    ):
        raise ReadOnlySession(
            "a write in a unit of work opened to read (unit_of_work(write=False))"
        )


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
        if not write:
            session.sync_session.info[READ_ONLY] = True
        try:
            yield session
            await session.commit()
        except DBAPIError as exc:
            await session.rollback()
            translated = translate_database_error(exc)
            if translated is exc:
                raise
            raise translated from exc
        except BaseException:
            await session.rollback()
            raise
