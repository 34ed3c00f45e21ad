"""DNSimple's rate limit: requests per token per hour, announced on every /v2 response.

The official client reads ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (integers) from
every successful response and crashes without them, so this middleware wraps everything under
the prefix (errors, 404, 405, 413, 500 included) and adds them. Windows are fixed clock hours,
keyed by a hash of the bearer secret; counts live in the process, or in Redis when configured so
that every API process shares them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nichandle.dialects.deps import bearer_secret
from nichandle.dialects.dnsimple import errors

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 3600
REDIS_PREFIX = "nichandle:dnsimple:ratelimit"
_HEADER_NAMES = (b"x-ratelimit-limit", b"x-ratelimit-remaining", b"x-ratelimit-reset")


class Counter(Protocol):
    async def hit(self, key: str, window: int) -> int:
        """Counts one request of ``key`` in ``window``; returns the window's count so far."""

    async def close(self) -> None: ...


class InProcessCounter:
    """Counts of the current window only: a new window starts from an empty table. The table is
    bounded too, so a flood of made-up tokens can't grow it without end; past the bound, new
    keys go uncounted (they are almost surely answered 401 anyway) until the next window."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._window = -1
        self._counts: dict[str, int] = {}

    async def hit(self, key: str, window: int) -> int:
        if window != self._window:
            self._window, self._counts = window, {}
        count = self._counts.get(key, 0) + 1
        if count > 1 or len(self._counts) < self.max_keys:
            self._counts[key] = count
        return count

    async def close(self) -> None:
        return None


class RedisCounter:
    """One Redis key per (window, token), incremented atomically, expiring after its window."""

    def __init__(self, url: str) -> None:
        self._redis: Redis = Redis.from_url(url)

    async def hit(self, key: str, window: int) -> int:
        name = f"{REDIS_PREFIX}:{window}:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, WINDOW_SECONDS + 60)
            count, _ = await pipe.execute()
        return int(count)

    async def close(self) -> None:
        await self._redis.aclose()


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset: int
    exceeded: bool

    def headers(self) -> list[tuple[bytes, bytes]]:
        values = (self.limit, self.remaining, self.reset)
        return [
            (name, str(value).encode()) for name, value in zip(_HEADER_NAMES, values, strict=True)
        ]


class RateLimiter:
    def __init__(
        self,
        limit: int,
        *,
        redis_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.clock = clock
        self.counter: Counter = RedisCounter(redis_url) if redis_url else InProcessCounter()
        # Used while Redis fails: limiting per process beats refusing or not limiting at all.
        self.fallback = InProcessCounter()

    @staticmethod
    def key(secret: str | None) -> str:
        """Tokens are never kept, not even in the limiter: their SHA-256 stands in."""
        return hashlib.sha256((secret or "").encode()).hexdigest()

    async def hit(self, secret: str | None) -> Quota:
        now = self.clock()
        window = int(now // WINDOW_SECONDS)
        key = self.key(secret)
        try:
            count = await self.counter.hit(key, window)
        except (RedisError, OSError) as exc:
            logger.warning("rate limit store unavailable, counting in-process: %s", exc)
            count = await self.fallback.hit(key, window)
        return Quota(
            limit=self.limit,
            remaining=max(0, self.limit - count),
            reset=(window + 1) * WINDOW_SECONDS,
            exceeded=count > self.limit,
        )

    async def close(self) -> None:
        await self.counter.close()


class DnsimpleRateLimit:
    """ASGI middleware for the /v2 prefix: counts, refuses with 429 when spent, and adds the
    X-RateLimit headers to every response, including the 500 it renders for unexpected errors
    (Starlette's own 500 would be plain text and come from outside this middleware)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        redis_url: str | None = None,
        prefix: str = "/v2",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.limiter = RateLimiter(limit, redis_url=redis_url, clock=clock)

    def _applies(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing_on_shutdown(send))
            return
        if scope["type"] != "http" or not self._applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        secret = bearer_secret(Headers(scope=scope).get("authorization"))
        quota = await self.limiter.hit(secret)
        started = False

        async def send_with_quota(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                kept = [(k, v) for k, v in message.get("headers", []) if k not in _HEADER_NAMES]
                message = {**message, "headers": [*kept, *quota.headers()]}
            await send(message)

        if quota.exceeded:
            await errors.quota_exceeded()(scope, receive, send_with_quota)
            return
        try:
            await self.app(scope, receive, send_with_quota)
        except Exception:
            if started:
                raise
            await errors.server_error()(scope, receive, send_with_quota)
            raise  # still logged by the server; the client already has its JSON 500

    def _closing_on_shutdown(self, send: Send) -> Send:
        async def closing_send(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.limiter.close()
            await send(message)

        return closing_send
