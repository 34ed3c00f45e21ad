"""Rate limits every dialect shares: a quota per token and a limit on failed authentications.

- The token quota counts authenticated requests per token and clock hour (DNSimple's model, and
  its X-RateLimit headers on /v2). It is one quota across the three dialects, keyed by the
  token's stored hash, so only tokens that authenticated ever get a counter: a flood of made-up
  tokens adds nothing to the table and cannot push real tokens' windows out of it. Counts live
  in the process, or in Redis when configured so that every API process shares them.
- Failed authentications are counted per client address in a table of their own, bounded and
  in-process; past the limit an address is refused (429) before its credentials are looked at.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import Scope

from nichandle.errors import RateLimited
from nichandle.settings import Settings

logger = logging.getLogger(__name__)

QUOTA_WINDOW_SECONDS = 3600
REDIS_PREFIX = "nichandle:ratelimit"
RATE_LIMIT_HEADERS = (b"x-ratelimit-limit", b"x-ratelimit-remaining", b"x-ratelimit-reset")


class Counter(Protocol):
    async def hit(self, key: str, window: int) -> int:
        """Counts one request of ``key`` in ``window``; returns the window's count so far."""

    async def peek(self, key: str, window: int) -> int:
        """The window's count of ``key`` so far, counting nothing."""

    async def close(self) -> None: ...


class InProcessCounter:
    """Counts of the current window only: a new window starts from an empty table. The table is
    bounded too, so no caller can grow it without end; past the bound, new keys go uncounted
    until the next window (an old key is never evicted for a new one)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._window = -1
        self._counts: dict[str, int] = {}

    def _roll(self, window: int) -> None:
        if window != self._window:
            self._window, self._counts = window, {}

    async def hit(self, key: str, window: int) -> int:
        self._roll(window)
        count = self._counts.get(key, 0) + 1
        if count > 1 or len(self._counts) < self.max_keys:
            self._counts[key] = count
        return count

    async def peek(self, key: str, window: int) -> int:
        return self._counts.get(key, 0) if window == self._window else 0

    def __len__(self) -> int:
        return len(self._counts)

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
            pipe.expire(name, QUOTA_WINDOW_SECONDS + 60)
            count, _ = await pipe.execute()
        return int(count)

    async def peek(self, key: str, window: int) -> int:
        return int(await self._redis.get(f"{REDIS_PREFIX}:{window}:{key}") or 0)

    async def close(self) -> None:
        await self._redis.aclose()


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset: int  # the window's end, unix seconds
    exceeded: bool
    retry_after: int  # seconds to the window's end

    def headers(self) -> list[tuple[bytes, bytes]]:
        """DNSimple's X-RateLimit-Limit, -Remaining and -Reset."""
        values = (self.limit, self.remaining, self.reset)
        return [
            (name, str(value).encode())
            for name, value in zip(RATE_LIMIT_HEADERS, values, strict=True)
        ]


class TokenQuota:
    """Requests per token per clock hour, keyed by the token's stored hash (never the secret)."""

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

    async def hit(self, token_hash: str) -> Quota:
        """Counts one request of an authenticated token."""
        return await self._count(token_hash, peek=False)

    async def peek(self, token_hash: str | None) -> Quota:
        """The token's quota without counting (responses no authentication counted)."""
        if token_hash is None:
            return self._quota(0, self.clock())
        return await self._count(token_hash, peek=True)

    async def _count(self, key: str, *, peek: bool) -> Quota:
        now = self.clock()
        window = int(now // QUOTA_WINDOW_SECONDS)
        try:
            counter = self.counter
            count = await (counter.peek if peek else counter.hit)(key, window)
        except (RedisError, OSError) as exc:
            logger.warning("rate limit store unavailable, counting in-process: %s", exc)
            counter = self.fallback
            count = await (counter.peek if peek else counter.hit)(key, window)
        return self._quota(count, now)

    def _quota(self, count: int, now: float) -> Quota:
        reset = (int(now // QUOTA_WINDOW_SECONDS) + 1) * QUOTA_WINDOW_SECONDS
        return Quota(
            limit=self.limit,
            remaining=max(0, self.limit - count),
            reset=reset,
            exceeded=count > self.limit,
            retry_after=math.ceil(reset - now),
        )

    def refuse(self, quota: Quota) -> RateLimited:
        return RateLimited(
            f"The token's quota of {self.limit} requests an hour is spent; "
            f"retry after {quota.retry_after} seconds",
            retry_after=quota.retry_after,
            code="quota_exceeded",
        )

    async def close(self) -> None:
        await self.counter.close()


class AuthFailures:
    """Failed authentications per client address in fixed windows, in a bounded table.

    In-process on purpose: the check runs before every authentication, so it must cost no
    round trip; with several workers an address may fail up to ``limit`` times in each. Past
    ``max_addresses`` in one window, new addresses go uncounted rather than evicting the ones
    already refused.
    """

    def __init__(
        self,
        limit: int,
        window_seconds: int,
        *,
        max_addresses: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.window_seconds = max(1, window_seconds)
        self.clock = clock
        self.counts = InProcessCounter(max_keys=max_addresses)

    def _window(self) -> tuple[int, float]:
        now = self.clock()
        return int(now // self.window_seconds), now

    async def check(self, address: str) -> None:
        """Raises RateLimited while ``address`` has used up its failures of this window."""
        if self.limit <= 0:
            return
        window, now = self._window()
        if await self.counts.peek(address, window) >= self.limit:
            retry_after = math.ceil((window + 1) * self.window_seconds - now)
            raise RateLimited(
                f"Too many failed authentications from this address; "
                f"retry after {retry_after} seconds",
                retry_after=retry_after,
                code="too_many_failed_authentications",
            )

    async def failed(self, address: str) -> None:
        if self.limit > 0:
            await self.counts.hit(address, self._window()[0])


class Limits:
    """The app's limiters, shared by the dialects' dependencies and the /v2 middleware."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.quota = TokenQuota(
            settings.token_rate_limit_per_hour, redis_url=settings.redis_url, clock=clock
        )
        self.failures = AuthFailures(
            settings.auth_failure_limit, settings.auth_failure_window_seconds, clock=clock
        )

    async def close(self) -> None:
        await self.quota.close()


def client_address(scope: Scope) -> str:
    """The client's address as the limiter counts it: an IPv6 client by its /64, the block one
    host usually holds whole (counting single addresses would give it 2**64 fresh starts).

    X-Forwarded-For is read only from the proxies ``trusted_proxies`` names, by uvicorn's
    ProxyHeadersMiddleware in front of the app (app.py), which rewrites ``scope["client"]``.
    """
    client = scope.get("client")
    host = client[0] if client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
