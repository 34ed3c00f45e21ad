"""The one place that reads the environment (prefix ``NICHANDLE_``)."""

from __future__ import annotations

from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
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
    # Requests per token per clock hour in every dialect, answered 429 beyond (DNSimple's own
    # default). One quota per token: a token spent on /v2 is spent on /api/v1 and /core/v1 too.
    token_rate_limit_per_hour: int = 2400
    # The setting's name from when only /v2 was limited; still read when the new one is unset.
    dnsimple_rate_limit_per_hour: int | None = None
    # Failed authentications (credentials sent, refused) per client address and window; past
    # them the address gets 429 before its credentials are looked at. 0 turns this off.
    auth_failure_limit: int = 100
    auth_failure_window_seconds: int = 60
    # Comma-separated addresses or networks of the proxies in front ("10.0.0.0/8,::1", "*" for
    # any): only requests from them have X-Forwarded-For read as the client's address. Empty:
    # the client is the connection's peer, whatever headers it sends.
    trusted_proxies: str = ""
    # Optional: share the token quota's windows between processes; in-process counters without it.
    redis_url: str | None = None
    # Events and webhooks (docs/events.md). With it set, the worker also appends every event to
    # a Redis Stream.
    events_redis_url: str | None = None
    # Webhook URLs resolving to loopback, private, link-local or reserved addresses are refused
    # (at creation and again at each delivery) unless this is set: tests, closed networks.
    webhooks_allow_private: bool = False
    webhook_timeout_seconds: float = 10.0
    # The Redis Stream every event is appended to (one for all accounts; each entry names its
    # account), trimmed to about this many entries (XADD MAXLEN ~).
    events_stream: str = "nichandle:events"
    events_stream_maxlen: int = 1_000_000
    # The outbox worker (docs/events.md): how long a claim holds before another worker may take
    # the row, how long an idle worker waits before looking again, how many deliveries a round
    # claims at once, and how many events it dispatches (more: an event nobody receives is a
    # read of four columns, and one registrant's edit makes 10,000).
    worker_lease_seconds: float = 60.0
    worker_poll_seconds: float = 0.5
    worker_batch_size: int = 100
    worker_dispatch_batch_size: int = 1000
    # The web UI (docs/web.md): how long a sign-in lasts, and failed sign-ins allowed per
    # email and per client address in each window before the sign-in page answers 429.
    web_session_hours: int = 12
    web_sign_in_failures_per_email: int = 5
    web_sign_in_failures_per_address: int = 20
    web_sign_in_window_seconds: int = 900

    # Registrant verification mail (docs/verification.md). smtp://host:port, smtps://host:port
    # or smtp://host:port?starttls=true, user and password in the URL. Unset: mails are written
    # to the log with their link (the `make run` default) and kept as delivered-to-log.
    smtp_url: SecretStr | None = None
    mail_from: str = "nichandle <noreply@localhost>"
    # ICANN's values (RAA WHOIS Accuracy Program Specification): days after the start.
    verification_deadline_days: int = 15
    verification_reminder_days: str = "5,10,13"  # comma-separated, each before the deadline
    verification_resend_seconds: int = 900
    # Two-letter TLDs (ccTLDs) need no verification; these (comma-separated) are exempt too,
    # and verification_required_tlds are two-letter ones that need it all the same.
    verification_exempt_tlds: str = ""
    verification_required_tlds: str = ""
    # Change of registrant (docs/registrant-change.md): ICANN's Transfer Policy, Part II
    # ("cor-2024": both parties confirm, then a 60-day transfer lock) or its adopted successor
    # ("cord-2026": applied at once, the registrant notified). Switching affects new changes only.
    transfer_policy: Literal["cor-2024", "cord-2026"] = "cor-2024"
    registrant_change_expiry_days: int = Field(default=7, ge=1, le=60)
    transfer_lock_days: int = Field(default=60, ge=0, le=60)
    # cord-2026: the notice is due this long after the change (ICANN: within 24 hours).
    registrant_change_notice_delay_minutes: int = Field(default=0, ge=0, le=1440)
    # As for verification: two-letter TLDs (ccTLDs) are exempt, these too, and the required
    # ones are two-letter TLDs that follow the policy all the same.
    registrant_change_exempt_tlds: str = ""
    registrant_change_required_tlds: str = ""

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

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> Self:
        # A worker starts a request only while its whole timeout fits in the claim's lease.
        if self.worker_lease_seconds < 2 * self.webhook_timeout_seconds:
            raise ValueError(
                "worker_lease_seconds must be at least twice webhook_timeout_seconds "
                f"({self.worker_lease_seconds:g} < 2 x {self.webhook_timeout_seconds:g})"
            )
        return self

    @model_validator(mode="after")
    def _read_old_names(self) -> Self:
        if (
            self.dnsimple_rate_limit_per_hour is not None
            and "token_rate_limit_per_hour" not in self.model_fields_set
        ):
            self.token_rate_limit_per_hour = self.dnsimple_rate_limit_per_hour
        return self
