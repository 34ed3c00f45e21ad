"""Database URL -> async engines. SQLite gets WAL, a busy timeout and a single writer."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json, to_json
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import QueuePool

from nichandle.settings import Settings

# Execution option of the SQLite writer: BEGIN IMMEDIATE fails at once when another connection
# holds the write lock, instead of waiting out the busy timeout.
SQLITE_NO_WAIT = "nichandle_sqlite_no_wait"


class InvalidDatabaseUrl(ValueError):
    """NICHANDLE_DATABASE_URL names no database nichandle can use."""


def async_url(url: str) -> URL:
    """Accepts the plain ``sqlite:///path`` and ``postgresql://...`` forms users write."""
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError) as error:  # ValueError: a port that is no number
        # The message never repeats the URL: it may hold a password.
        raise InvalidDatabaseUrl(
            "not a database URL: use sqlite:///path/to/nichandle.db or postgresql://..."
        ) from error
    driver = parsed.drivername
    if driver in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif driver in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise InvalidDatabaseUrl(
            f"unsupported database URL scheme {driver!r}: use sqlite:// or postgresql://"
        )
    if parsed.drivername == "sqlite+aiosqlite" and parsed.database in (None, "", ":memory:"):
        raise InvalidDatabaseUrl("SQLite needs a file path (sqlite:///path/to/nichandle.db)")
    return parsed


def is_busy(error: exc.DBAPIError) -> bool:
    """SQLite's "database is locked": another connection held the write lock beyond the busy
    timeout. Worth a retry, unlike any other OperationalError."""
    original = error.orig
    code = getattr(original, "sqlite_errorcode", None) or getattr(
        getattr(original, "__cause__", None), "sqlite_errorcode", None
    )
    return code == sqlite3.SQLITE_BUSY or "database is locked" in str(original)


def _json_dumps(value: Any) -> str:
    # Unescaped UTF-8, so SQLite's JSON functions see keys and values as they were written.
    return to_json(value).decode()


# Every contact row carries two JSON columns, and each write a history and an outbox payload:
# pydantic-core reads and writes them 6-7x faster than the json module (a value read 1.0 ->
# 0.14 us; written 2.2 -> 0.37 us; 50 read a list page, 6 written a contact imported).
_JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": from_json}


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int, writer: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE and SAVEPOINT work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # The writer takes the write lock up front: a deferred transaction that later writes can
        # fail at once with "database is locked" instead of waiting out the busy timeout.
        if not writer:
            connection.exec_driver_sql("BEGIN")
        elif connection.get_execution_options().get(SQLITE_NO_WAIT):
            connection.exec_driver_sql("PRAGMA busy_timeout=0")
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                # Only taking the lock waits; once held, the transaction needs no timeout.
                connection.exec_driver_sql(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _ping_when_idle(engine: AsyncEngine, *, idle_seconds: float) -> None:
    """pool_pre_ping for the connections that sat idle ``idle_seconds`` or longer.

    Those are the ones a database restart, a failover or a firewall's idle timeout may have
    cut; a busy server reuses its connections every few milliseconds, and pinging each checkout
    cost 0.3 ms of a 2 ms read (bench/cpu.py). A connection that dies while in use fails its
    request as it would with pre-ping, and the pool then drops every older connection.
    """
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        # record.info goes with the DBAPI connection: a reconnect starts without it (fresh).
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure to answer: reconnect, as pre-ping does
            raise exc.InvalidatePoolError(str(error)) from error


@dataclass
class Database:
    """A writer and a reader engine; on PostgreSQL they are the same engine.

    ``statement_reader`` serves read-only requests. On PostgreSQL it is the engine in
    autocommit: under READ COMMITTED every statement takes a snapshot of its own, in a
    transaction or not, so BEGIN and COMMIT around a request's reads cost two round trips and
    buy nothing. On SQLite it is the reader, whose transaction does hold one snapshot and costs
    no round trip. Nothing may write through it: each statement would commit on its own.
    """

    url: URL
    writer: AsyncEngine
    reader: AsyncEngine
    statement_reader: AsyncEngine

    def __post_init__(self) -> None:
        self.writer_sessions = async_sessionmaker(self.writer, expire_on_commit=False)
        self.reader_sessions = async_sessionmaker(self.reader, expire_on_commit=False)
        self.statement_reader_sessions = async_sessionmaker(
            self.statement_reader, expire_on_commit=False
        )
        self.writer_sessions_without_waiting = async_sessionmaker(
            self.writer.execution_options(**{SQLITE_NO_WAIT: True}), expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def writer_is_free(self) -> bool:
        """Whether a write could start now without queueing for SQLite's one writer connection
        (always on PostgreSQL, whose pool is sized for the concurrency)."""
        pool = self.writer.pool
        if not self.is_sqlite or not isinstance(pool, QueuePool):
            return True
        return pool.checkedout() < pool.size()

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def create_database(settings: Settings) -> Database:
    url = async_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        writer = create_async_engine(
            url, pool_size=1, max_overflow=0, pool_timeout=120, **_JSON_CODEC
        )
        reader = create_async_engine(
            url,
            pool_size=settings.sqlite_reader_connections,
            max_overflow=0,
            pool_timeout=60,
            **_JSON_CODEC,
        )
        _configure_sqlite(writer, busy_timeout_ms=settings.sqlite_busy_timeout_ms, writer=True)
        _configure_sqlite(reader, busy_timeout_ms=settings.sqlite_busy_timeout_ms, writer=False)
        return Database(url, writer, reader, reader)
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        **_JSON_CODEC,
    )
    _ping_when_idle(engine, idle_seconds=settings.db_ping_after_idle_seconds)
    return Database(url, engine, engine, engine.execution_options(isolation_level="AUTOCOMMIT"))
