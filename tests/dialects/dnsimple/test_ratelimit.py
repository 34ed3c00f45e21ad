"""The token quota (DNSimple's rate limit, kept for every dialect): X-RateLimit headers on every
/v2 response, 429 when the hour is spent on any dialect, counted in-process or, when configured,
in Redis shared by every API process."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.exceptions import RedisError

from nichandle.accounts.tokens import hash_secret
from nichandle.app import create_app
from nichandle.db.engine import Database
from nichandle.dialects.ratelimit import REDIS_PREFIX, InProcessCounter, TokenQuota
from nichandle.settings import Settings
from tests.conftest import IN_CI, Team, make_team
from tests.dialects.dnsimple.helpers import (
    RATE_LIMIT_HEADERS,
    assert_rate_limit_headers,
    contact_url,
    contacts_url,
    create,
    message_of,
)

REDIS_URL = os.environ.get("NICHANDLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LIMIT = 3


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan run around the block (startup, then shutdown at the end)."""
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outbox: asyncio.Queue[str] = asyncio.Queue()

    async def send(message: dict[str, str]) -> None:
        await outbox.put(message["type"])

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, send))  # type: ignore[arg-type]
    await inbox.put({"type": "lifespan.startup"})
    assert await outbox.get() == "lifespan.startup.complete"
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert await outbox.get() == "lifespan.shutdown.complete"
        await task


def limited_app(settings: Settings, **overrides: object) -> FastAPI:
    """A second app over the session's (migrated) database with a limit of three an hour."""
    return create_app(
        Settings(database_url=settings.database_url, token_rate_limit_per_hour=LIMIT, **overrides)
    )


def quota(response: httpx.Response) -> tuple[int, int, int]:
    assert_rate_limit_headers(response)
    limit, remaining, reset = (int(response.headers[name]) for name in RATE_LIMIT_HEADERS)
    return limit, remaining, reset


@pytest.fixture
async def redis_url() -> str:
    """Redis for the shared counters: must answer in CI, skips elsewhere when it doesn't."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        message = f"Redis not reachable at {REDIS_URL}: {exc}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: the Redis rate limit must be tested)")
        pytest.skip(message)
    finally:
        await client.aclose()
    return REDIS_URL


async def test_every_v2_response_carries_integer_rate_limit_headers(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create(client, team)
    second = await create(client, team, label="second")
    responses = {
        200: await client.get(contacts_url(team), headers=team.headers),
        201: await client.post(contacts_url(team), json={}, headers=team.headers),
        204: await client.delete(contact_url(team, second["id"]), headers=team.headers),
        401: await client.get("/v2/whoami"),
        404: await client.get(contact_url(team, 0), headers=team.headers),
        405: await client.put(contacts_url(team), headers=team.headers),
    }
    responses[400] = responses.pop(201)  # the empty create is a validation error
    for status, response in responses.items():
        assert response.status_code == status, response.text
        assert_rate_limit_headers(response)


async def test_other_dialects_get_no_rate_limit_headers(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.get("/api/v1/contacts", headers=team.headers)
    assert response.status_code == 200
    assert not any(name in response.headers for name in RATE_LIMIT_HEADERS)


async def test_remaining_counts_down_and_reset_is_the_end_of_the_hour(
    settings: Settings, app: FastAPI, team: Team
) -> None:
    async with running(limited_app(settings)) as http:
        before = time.time()
        seen = [quota(await http.get("/v2/whoami", headers=team.headers)) for _ in range(LIMIT)]
    assert [limit for limit, _, _ in seen] == [LIMIT] * LIMIT
    assert [remaining for _, remaining, _ in seen] == [2, 1, 0]
    reset = seen[0][2]
    assert reset % 3600 == 0
    assert before < reset <= before + 3600 + 1


async def test_a_spent_hour_answers_429_quota_exceeded_for_that_token_only(
    settings: Settings, db: Database, app: FastAPI, team: Team
) -> None:
    other = await make_team(db)
    async with running(limited_app(settings)) as http:
        for _ in range(LIMIT):
            assert (await http.get("/v2/whoami", headers=team.headers)).status_code == 200
        for call in (
            http.get("/v2/whoami", headers=team.headers),
            http.get(contacts_url(team), headers=team.headers),
            http.post(contacts_url(team), json={}, headers=team.headers),
        ):
            refused = await call
            assert message_of(refused, 429) == "quota exceeded"
            assert quota(refused)[:2] == (LIMIT, 0)
            assert 0 < int(refused.headers["retry-after"]) <= 3600
        assert (await http.get("/v2/whoami", headers=other.headers)).status_code == 200


async def test_a_token_spent_on_v2_is_spent_in_every_dialect(
    settings: Settings, app: FastAPI, team: Team
) -> None:
    async with running(limited_app(settings)) as http:
        for _ in range(LIMIT):
            assert (await http.get("/v2/whoami", headers=team.headers)).status_code == 200
        assert message_of(await http.get("/v2/whoami", headers=team.headers), 429)
        native = await http.get("/api/v1/contacts", headers=team.headers)
        namecom = await http.get("/core/v1/domains", auth=(team.slug, team.token))
    assert native.status_code == 429, native.text
    assert "quota" in native.json()["message"]
    assert namecom.status_code == 429, namecom.text
    assert namecom.json()["message"] == "Rate Limit Exceeded"
    for response in (native, namecom):
        assert 0 < int(response.headers["retry-after"]) <= 3600
        assert not any(name in response.headers for name in RATE_LIMIT_HEADERS)


async def test_requests_in_other_dialects_count_against_the_v2_quota(
    settings: Settings, app: FastAPI, team: Team
) -> None:
    async with running(limited_app(settings)) as http:
        assert (await http.get("/api/v1/contacts", headers=team.headers)).status_code == 200
        auth = (team.slug, team.token)
        assert (await http.get("/core/v1/domains", auth=auth)).status_code == 200
        assert quota(await http.get("/v2/whoami", headers=team.headers))[1] == 0
        assert message_of(await http.get("/v2/whoami", headers=team.headers), 429)


async def test_unknown_tokens_are_not_counted_and_cannot_crowd_out_real_ones(
    settings: Settings, app: FastAPI, team: Team
) -> None:
    limited = limited_app(settings)
    counter = limited.state.limits.quota.counter
    assert isinstance(counter, InProcessCounter)
    counter.max_keys = 2  # a table that a flood of made-up tokens would fill at once
    async with running(limited) as http:
        for n in range(20):
            made_up = {"Authorization": f"Bearer nh_made_up_{n}"}
            assert (await http.get("/v2/whoami", headers=made_up)).status_code == 401
            assert (await http.get("/api/v1/contacts", headers=made_up)).status_code == 401
            assert (
                await http.get("/core/v1/domains", auth=(team.slug, f"x{n}"))
            ).status_code == 401
        assert len(counter) == 0
        seen = [quota(await http.get("/v2/whoami", headers=team.headers)) for _ in range(LIMIT)]
        assert [remaining for _, remaining, _ in seen] == [2, 1, 0]
        assert message_of(await http.get("/v2/whoami", headers=team.headers), 429)
    assert len(counter) == 1


async def test_a_response_no_authentication_counted_shows_the_quota_as_it_stands(
    settings: Settings, app: FastAPI, team: Team
) -> None:
    async with running(limited_app(settings)) as http:
        assert quota(await http.get("/v2/whoami", headers=team.headers))[1] == 2
        # An unknown route never authenticates: the token's quota is shown, not counted.
        unknown_route = await http.get("/v2/nothing/here", headers=team.headers)
        assert unknown_route.status_code == 404
        assert quota(unknown_route)[1] == 2
        anonymous = await http.get("/v2/whoami")
        assert anonymous.status_code == 401
        assert quota(anonymous)[:2] == (LIMIT, LIMIT)


async def test_a_new_hour_starts_a_new_count() -> None:
    now = [7200.0 + 3599]
    limiter = TokenQuota(2, clock=lambda: now[0])
    first = [await limiter.hit("s") for _ in range(3)]
    assert [q.remaining for q in first] == [1, 0, 0]
    assert first[0].reset == 3 * 3600
    assert first[0].retry_after == 1
    assert (await limiter.hit("s")).exceeded
    now[0] += 1
    assert (await limiter.peek("s")).remaining == 2  # nothing counted in the new hour yet
    fresh = await limiter.hit("s")
    assert (fresh.remaining, fresh.exceeded, fresh.reset) == (1, False, 4 * 3600)


async def test_the_in_process_table_is_bounded() -> None:
    counter = InProcessCounter(max_keys=2)
    assert [await counter.hit(key, 1) for key in ("a", "b", "a", "c", "c")] == [1, 1, 2, 1, 1]
    assert await counter.peek("a", 1) == 2
    assert await counter.peek("c", 1) == 0  # past the bound: uncounted, nothing evicted
    assert await counter.hit("c", 2) == 1  # a new window starts from an empty table
    assert await counter.hit("c", 2) == 2


def test_the_old_setting_name_still_sets_the_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NICHANDLE_DNSIMPLE_RATE_LIMIT_PER_HOUR", "7")
    assert Settings().token_rate_limit_per_hour == 7
    monkeypatch.setenv("NICHANDLE_TOKEN_RATE_LIMIT_PER_HOUR", "9")
    assert Settings().token_rate_limit_per_hour == 9  # the new name wins


async def test_redis_counts_are_shared_by_every_process(
    settings: Settings, app: FastAPI, team: Team, redis_url: str
) -> None:
    first, second = (
        limited_app(settings, redis_url=redis_url),
        limited_app(settings, redis_url=redis_url),
    )
    async with running(first) as one, running(second) as two:
        assert quota(await one.get("/v2/whoami", headers=team.headers))[1] == 2
        assert (await two.get("/api/v1/contacts", headers=team.headers)).status_code == 200
        assert quota(await one.get("/v2/whoami", headers=team.headers))[1] == 0
        assert (
            message_of(await two.get("/v2/whoami", headers=team.headers), 429) == "quota exceeded"
        )
        assert (await one.get("/api/v1/contacts", headers=team.headers)).status_code == 429

    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(f"{REDIS_PREFIX}:*:{hash_secret(team.token)}")]
        assert len(keys) == 1
        assert int(await redis.get(keys[0]) or 0) == 5
        assert 0 < await redis.ttl(keys[0]) <= 3660
        await redis.delete(*keys)
    finally:
        await redis.aclose()


async def test_an_unreachable_redis_falls_back_to_counting_in_process(
    settings: Settings, app: FastAPI, team: Team
) -> None:
    unreachable = f"redis://127.0.0.1:1/{secrets.randbelow(16)}"
    async with running(limited_app(settings, redis_url=unreachable)) as http:
        remaining = [
            quota(await http.get("/v2/whoami", headers=team.headers))[1] for _ in range(LIMIT)
        ]
        assert remaining == [2, 1, 0]
        assert (await http.get("/v2/whoami", headers=team.headers)).status_code == 429
