"""Sending a claimed delivery: a signed POST to a webhook, or an entry in the Redis Stream.

A webhook's host is resolved and checked at every attempt (webhooks/targets.resolve), and the
request goes to the address that was checked, not to the name (which could resolve elsewhere a
moment later: DNS rebinding). The Host header and TLS (SNI and certificate verification, via
httpcore's ``sni_hostname`` extension) still use the name, so the receiver sees its own URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from importlib.metadata import version
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import httpx
import redis.asyncio as redis
import standardwebhooks
from redis.exceptions import RedisError

from nichandle import clock
from nichandle.events.models import Channel
from nichandle.settings import Settings
from nichandle.webhooks import targets
from nichandle.worker.deliveries import NOT_SENT, Claim, Outcome

USER_AGENT = f"nichandle-webhooks/{version('nichandle')}"
# Requests in flight at once: enough to hide the receivers' latency; more makes httpcore's pool,
# which scans every connection for every request, the worker's main cost.
SENDS_AT_ONCE = 32
# What of a receiver's answer is read (so its connection can serve the next delivery); the rest
# is dropped with the connection.
ANSWER_BYTES = 65_536


class Sender:
    """The HTTP client and the Redis connection a worker sends through."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            # Every connection the sends at once use stays open for the next round.
            limits=httpx.Limits(
                max_connections=SENDS_AT_ONCE, max_keepalive_connections=SENDS_AT_ONCE
            ),
            follow_redirects=False,
            trust_env=False,  # never through a proxy from the environment: we chose the address
        )
        self.slots = asyncio.Semaphore(SENDS_AT_ONCE)
        url = settings.events_redis_url
        self.redis = redis.from_url(url) if url else None

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        await self.http.aclose()
        if self.redis is not None:
            await self.redis.aclose()

    async def send(self, claims: Sequence[Claim], *, within: float) -> list[Outcome]:
        """Every claim's outcome, in order, all within ``within`` seconds: a request starts only
        while it has its whole timeout left before then (else NOT_SENT), so no claim is still
        being sent when its lease ends. Webhooks concurrently, each URL resolved and checked
        once; stream entries in one pipeline."""
        deadline = asyncio.get_running_loop().time() + within
        hooks = [claim for claim in claims if claim.channel is Channel.WEBHOOK]
        entries = [claim for claim in claims if claim.channel is Channel.STREAM]
        urls = sorted({claim.webhook.url for claim in hooks if claim.webhook is not None})
        checked = dict(zip(urls, await asyncio.gather(*map(self._check, urls)), strict=True))
        sent, appended = await asyncio.gather(
            asyncio.gather(*(self._post(claim, checked, deadline) for claim in hooks)),
            self._append(entries),
        )
        outcomes = {
            claim.delivery_id: outcome
            for claim, outcome in zip([*hooks, *entries], [*sent, *appended], strict=True)
        }
        return [outcomes[claim.delivery_id] for claim in claims]

    async def _check(self, url: str) -> targets.Target | targets.TargetRefused:
        try:
            return await targets.resolve(url, allow_private=self.settings.webhooks_allow_private)
        except targets.TargetRefused as refused:
            return refused

    async def _post(
        self,
        claim: Claim,
        checked: dict[str, targets.Target | targets.TargetRefused],
        deadline: float,
    ) -> Outcome:
        webhook = claim.webhook
        if webhook is None:  # deleted since the claim (its deliveries go with it)
            return Outcome("the webhook is gone")
        target = checked[webhook.url]
        if isinstance(target, targets.TargetRefused):
            return Outcome(f"refused: {target}")
        async with self.slots:
            seconds = self.settings.webhook_timeout_seconds
            if asyncio.get_running_loop().time() + seconds > deadline:
                return NOT_SENT
            return await self._post_to(claim, webhook.secret, target)

    async def _post_to(self, claim: Claim, secret: str, target: targets.Target) -> Outcome:
        seconds = self.settings.webhook_timeout_seconds
        signed_at = clock.now()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Host": urlsplit(target.url).netloc,
            "webhook-id": claim.event_uuid,
            "webhook-timestamp": str(int(signed_at.timestamp())),
            "webhook-signature": standardwebhooks.Webhook(secret).sign(
                claim.event_uuid, signed_at, claim.body
            ),
        }
        try:
            async with (
                asyncio.timeout(seconds),
                self.http.stream(
                    "POST",
                    _at_address(target),
                    content=claim.body.encode(),
                    headers=headers,
                    extensions={"sni_hostname": target.host},
                ) as answer,
            ):
                await _read_some(answer)
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(f"no answer within {seconds:g} s")
        except httpx.HTTPError as failed:
            return Outcome(f"{type(failed).__name__}: {failed}")
        if 200 <= answer.status_code < 300:
            return Outcome(status=answer.status_code)
        return Outcome(f"answered HTTP {answer.status_code}", status=answer.status_code)

    async def _append(self, claims: Sequence[Claim]) -> list[Outcome]:
        if not claims:
            return []
        if self.redis is None:
            return [Outcome("NICHANDLE_EVENTS_REDIS_URL is not set")] * len(claims)
        pipe = self.redis.pipeline(transaction=False)
        for claim in claims:
            pipe.xadd(
                self.settings.events_stream,
                {
                    "id": claim.event_uuid,
                    "type": claim.event_type,
                    "account_id": str(claim.account_id),
                    "event": claim.body,
                },
                maxlen=self.settings.events_stream_maxlen,
                approximate=True,
            )
        try:
            results = await pipe.execute(raise_on_error=False)
        except (RedisError, OSError) as failed:
            return [Outcome(f"Redis: {type(failed).__name__}: {failed}")] * len(claims)
        return [
            Outcome(f"Redis: {result}") if isinstance(result, Exception) else Outcome()
            for result in results
        ]


def _at_address(target: targets.Target) -> str:
    """The target's URL with its host replaced by the checked address."""
    parts = urlsplit(target.url)
    host = f"[{target.address}]" if ":" in target.address else target.address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


async def _read_some(answer: httpx.Response) -> None:
    read = 0
    async for chunk in answer.aiter_raw():
        read += len(chunk)
        if read >= ANSWER_BYTES:
            return
