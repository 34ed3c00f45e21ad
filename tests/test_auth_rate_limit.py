"""Failed authentications are limited per client address in every dialect: past the limit, the
address gets 429 with Retry-After in the dialect's envelope before its credentials are looked
at; successes and requests without credentials don't count; X-Forwarded-For counts only from
the proxies NICHANDLE_TRUSTED_PROXIES names."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from nichandle.app import create_app
from nichandle.dialects.ratelimit import AuthFailures, client_address
from nichandle.errors import RateLimited
from nichandle.settings import Settings
from tests.conftest import Team

LIMIT = 3
WINDOW = 60

Call = Callable[[httpx.AsyncClient, Team, str | None], Awaitable[httpx.Response]]


async def native(http: httpx.AsyncClient, team: Team, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await http.get("/api/v1/contacts", headers=headers)


async def dnsimple(http: httpx.AsyncClient, team: Team, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await http.get(f"/v2/{team.id}/contacts", headers=headers)


async def namecom(http: httpx.AsyncClient, team: Team, token: str | None) -> httpx.Response:
    auth = (team.slug, token) if token is not None else None
    return await http.get("/core/v1/domains", auth=auth)


DIALECTS: dict[str, Call] = {"native": native, "dnsimple": dnsimple, "namecom": namecom}
# What each dialect's 429 says, in its own envelope.
MESSAGES = {
    "native": lambda body: body["message"],
    "dnsimple": lambda body: body["message"],
    "namecom": lambda body: body["details"],
}


AppFactory = Callable[..., FastAPI]


@pytest.fixture
async def limited_app(settings: Settings, app: FastAPI) -> AsyncIterator[AppFactory]:
    """Apps over the session's (migrated) database with a limit of three failures a minute."""
    made: list[FastAPI] = []

    def make(**overrides: object) -> FastAPI:
        limited = create_app(
            Settings(
                database_url=settings.database_url,
                auth_failure_limit=LIMIT,
                auth_failure_window_seconds=WINDOW,
                **overrides,
            )
        )
        made.append(limited)
        return limited

    yield make
    for limited in made:
        await limited.state.db.dispose()


@asynccontextmanager
async def client_from(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def assert_refused(dialect: str, response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert 0 < int(response.headers["retry-after"]) <= WINDOW
    message = MESSAGES[dialect](response.json())
    assert "failed authentications" in message, message
    if dialect == "namecom":
        assert response.json()["message"] == "Rate Limit Exceeded"


@pytest.mark.parametrize("dialect", list(DIALECTS))
async def test_an_address_past_its_failures_gets_429_even_with_a_good_token(
    limited_app: AppFactory, team: Team, dialect: str
) -> None:
    call = DIALECTS[dialect]
    limited = limited_app()
    async with client_from(limited, "198.51.100.7") as attacker:
        for _ in range(LIMIT):
            assert (await call(attacker, team, "nh_wrong")).status_code == 401
        assert_refused(dialect, await call(attacker, team, "nh_wrong"))
        assert_refused(dialect, await call(attacker, team, team.token))
        assert_refused(dialect, await call(attacker, team, None))
    async with client_from(limited, "198.51.100.8") as neighbour:
        assert (await call(neighbour, team, team.token)).status_code == 200


async def test_failures_in_every_dialect_add_up(limited_app: AppFactory, team: Team) -> None:
    async with client_from(limited_app(), "198.51.100.9") as http:
        for call in DIALECTS.values():
            assert (await call(http, team, "nh_wrong")).status_code == 401
        assert_refused("native", await native(http, team, team.token))


async def test_successes_and_requests_without_credentials_do_not_count(
    limited_app: AppFactory, team: Team
) -> None:
    async with client_from(limited_app(), "198.51.100.10") as http:
        for _ in range(LIMIT - 1):
            assert (await native(http, team, "nh_wrong")).status_code == 401
        for call in DIALECTS.values():
            for _ in range(5):
                assert (await call(http, team, team.token)).status_code == 200
                assert (await call(http, team, None)).status_code == 401
        assert (await native(http, team, "nh_wrong")).status_code == 401  # the last allowed
        assert_refused("native", await native(http, team, team.token))


async def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    limited_app: AppFactory, team: Team
) -> None:
    async with client_from(limited_app(), "192.0.2.1") as http:
        for n in range(LIMIT):
            forged = {"Authorization": "Bearer nh_wrong", "X-Forwarded-For": f"203.0.113.{n}"}
            assert (await http.get("/api/v1/contacts", headers=forged)).status_code == 401
        fresh = {**team.headers, "X-Forwarded-For": "203.0.113.99"}
        assert_refused("native", await http.get("/api/v1/contacts", headers=fresh))


async def test_behind_a_trusted_proxy_each_forwarded_client_counts_on_its_own(
    limited_app: AppFactory, team: Team
) -> None:
    limited = limited_app(trusted_proxies="192.0.2.0/24")
    async with client_from(limited, "192.0.2.1") as proxy:
        attacker = {"Authorization": "Bearer nh_wrong", "X-Forwarded-For": "203.0.113.5"}
        for _ in range(LIMIT):
            assert (await proxy.get("/api/v1/contacts", headers=attacker)).status_code == 401
        attacker_again = {**team.headers, "X-Forwarded-For": "203.0.113.5"}
        assert_refused("native", await proxy.get("/api/v1/contacts", headers=attacker_again))
        # The proxy's other clients, and the proxy itself, are not the attacker.
        other = {**team.headers, "X-Forwarded-For": "203.0.113.6"}
        assert (await proxy.get("/api/v1/contacts", headers=other)).status_code == 200
        assert (await proxy.get("/api/v1/contacts", headers=team.headers)).status_code == 200
    # A client that is not a trusted proxy cannot choose its address with the header.
    async with client_from(limited, "203.0.113.5") as direct:
        assert_refused("native", await direct.get("/api/v1/contacts", headers=team.headers))
    async with client_from(limited, "198.51.100.20") as outsider:
        for _ in range(LIMIT):
            forged = {"Authorization": "Bearer nh_wrong", "X-Forwarded-For": "203.0.113.77"}
            assert (await outsider.get("/api/v1/contacts", headers=forged)).status_code == 401
        assert_refused("native", await outsider.get("/api/v1/contacts", headers=team.headers))
    async with client_from(limited, "192.0.2.1") as proxy:
        innocent = {**team.headers, "X-Forwarded-For": "203.0.113.77"}
        assert (await proxy.get("/api/v1/contacts", headers=innocent)).status_code == 200


async def test_the_limit_lifts_when_the_window_ends() -> None:
    now = [1000.0 * WINDOW + 10]
    failures = AuthFailures(2, WINDOW, clock=lambda: now[0])
    for _ in range(2):
        await failures.check("a")
        await failures.failed("a")
    with pytest.raises(RateLimited) as refused:
        await failures.check("a")
    assert refused.value.retry_after == WINDOW - 10
    await failures.check("b")
    now[0] += WINDOW - 10
    await failures.check("a")


async def test_the_failure_table_is_bounded_and_never_evicts_a_refused_address() -> None:
    failures = AuthFailures(2, WINDOW, max_addresses=2, clock=lambda: 5.0)
    for address in ("a", "b", "a", "b"):
        await failures.failed(address)
    for address in (f"flood-{n}" for n in range(1000)):
        await failures.failed(address)
        await failures.failed(address)
    assert len(failures.counts) == 2
    for address in ("a", "b"):
        with pytest.raises(RateLimited):
            await failures.check(address)


async def test_a_limit_of_zero_turns_the_limit_off() -> None:
    failures = AuthFailures(0, WINDOW)
    for _ in range(10):
        await failures.failed("a")
        await failures.check("a")
    assert len(failures.counts) == 0


@pytest.mark.parametrize(
    ("client", "counted_as"),
    [
        (("198.51.100.7", 1), "198.51.100.7"),
        (("2001:db8:1:2:aaaa::1", 1), "2001:db8:1:2::/64"),
        (("2001:db8:1:2:bbbb::9", 1), "2001:db8:1:2::/64"),
        (("::ffff:198.51.100.7", 1), "198.51.100.7"),
        (None, "unknown"),
        (("testclient", 1), "testclient"),
    ],
)
def test_client_addresses_are_counted_by_host_and_ipv6_by_its_64(
    client: tuple[str, int] | None, counted_as: str
) -> None:
    assert client_address({"type": "http", "client": client}) == counted_as
