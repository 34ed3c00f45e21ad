"""The one place that reads the environment (prefix ``NICHANDLE_``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NICHANDLE_", extra="ignore")

    database_url: str = "sqlite:///./nichandle.db"
    host: str = "127.0.0.1"
    # Where clients reach the API (scheme, host, any path prefix a proxy adds), for links the
    # server hands out. Unset, page links are relative: never built from a client's Host header.
    public_url: str | None = None
    port: int = 8000
    workers: int = 1
    # One line per request on stdout; off where a proxy in front already logs them.
    access_log: bool = True

    # PostgreSQL: the pool must cover the server's concurrency, or requests starve behind it
    # (sqlalchemy#7679). pool_size + max_overflow >= concurrent requests per process.
    db_pool_size: int = 20
    db_max_overflow: int = 20
    db_pool_timeout_seconds: float = 30.0
    # A pooled connection idle this long is pinged before use (db/engine._ping_when_idle).
    db_ping_after_idle_seconds: float = 1.0
    # SQLite: one writer connection (so writers queue instead of failing with "database is
    # locked"), a few readers beside it thanks to WAL, and a busy timeout for other processes.
    sqlite_reader_connections: int = 4
    sqlite_busy_timeout_ms: int = 30_000

    max_body_bytes: int = 1_048_576
    # last_used_at is written at most this often per token, so reads stay reads.
    token_last_used_resolution_seconds: int = 60
    native_default_per_page: int = 25
    # DNSimple dialect: requests per token per hour, answered 429 beyond (DNSimple's own default).
    dnsimple_rate_limit_per_hour: int = 2400
    # Optional: share rate-limit windows between processes; in-process counters without it.
    redis_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL, e.g. https://api.example.com")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        return value.rstrip("/")
