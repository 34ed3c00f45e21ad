"""DNSimple /v2 whoami, accounts and authentication."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

import httpx
import pytest

from nichandle.accounts import service as accounts
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from tests.conftest import Team, make_team
from tests.dialects.dnsimple.helpers import (
    assert_same_shape,
    contact_body,
    contact_url,
    contacts_url,
    create,
    fixture_body,
    message_of,
    personal_token,
)

Request = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[httpx.Response]]

ENDPOINTS: dict[str, Request] = {
    "whoami": lambda c, h: c.get("/v2/whoami", headers=h),
    "accounts": lambda c, h: c.get("/v2/accounts", headers=h),
    "list": lambda c, h: c.get(contacts_url(1), headers=h),
    "create": lambda c, h: c.post(contacts_url(1), json=contact_body(), headers=h),
    "get": lambda c, h: c.get(contact_url(1, 1), headers=h),
    "update": lambda c, h: c.patch(contact_url(1, 1), json={}, headers=h),
    "delete": lambda c, h: c.delete(contact_url(1, 1), headers=h),
    "domains": lambda c, h: c.get("/v2/1/domains", headers=h),
    "domain": lambda c, h: c.get("/v2/1/domains/example.com", headers=h),
}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def new_email() -> str:
    return f"user-{secrets.token_hex(4)}@example.com"


async def test_whoami_with_an_account_token_matches_the_fixture(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = new_email()
    team = await make_team(db, owner_email=owner)
    response = await client.get("/v2/whoami", headers=team.headers)
    assert response.status_code == 200
    body = response.json()
    assert_same_shape(body, fixture_body("whoami/success-account.http"))
    assert body["data"]["user"] is None
    account = body["data"]["account"]
    assert account["id"] == team.id
    assert account["email"] == owner
    assert account["plan_identifier"] == "nichandle"


async def test_an_account_without_owner_has_an_empty_email(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.get("/v2/whoami", headers=team.headers)
    assert response.json()["data"]["account"]["email"] == ""


async def test_whoami_with_a_personal_token_matches_the_fixture(
    client: httpx.AsyncClient, db: Database, team: Team, other_team: Team
) -> None:
    email = new_email()
    secret = await personal_token(db, email, team, other_team)
    response = await client.get("/v2/whoami", headers=bearer(secret))
    assert response.status_code == 200
    body = response.json()
    assert_same_shape(body, fixture_body("whoami/success-user.http"))
    assert body["data"]["account"] is None
    assert body["data"]["user"]["email"] == email


async def test_accounts_lists_the_accounts_a_token_may_use(
    client: httpx.AsyncClient, db: Database, team: Team, other_team: Team
) -> None:
    single = await client.get("/v2/accounts", headers=team.headers)
    assert single.status_code == 200
    assert_same_shape(single.json(), fixture_body("listAccounts/success-account.http"))
    assert [a["id"] for a in single.json()["data"]] == [team.id]

    email = new_email()
    await make_team(db)  # an account the user is not in
    secret = await personal_token(db, email, other_team, team)
    several = await client.get("/v2/accounts", headers=bearer(secret))
    assert_same_shape(several.json(), fixture_body("listAccounts/success-user.http"))
    assert [a["id"] for a in several.json()["data"]] == sorted([team.id, other_team.id])


async def test_a_personal_token_uses_each_of_its_accounts_by_path(
    client: httpx.AsyncClient, db: Database, team: Team, other_team: Team
) -> None:
    secret = await personal_token(db, new_email(), team, other_team)
    stranger = await make_team(db)
    for account in (team, other_team):
        created = await client.post(
            contacts_url(account), json=contact_body(), headers=bearer(secret)
        )
        assert created.status_code == 201
        assert created.json()["data"]["account_id"] == account.id
    response = await client.get(contacts_url(stranger), headers=bearer(secret))
    assert message_of(response, 404) == f"Account `{stranger.id}` not found"


async def test_a_personal_token_without_accounts_still_has_a_user(
    client: httpx.AsyncClient, db: Database
) -> None:
    secret = await personal_token(db, new_email())
    who = await client.get("/v2/whoami", headers=bearer(secret))
    assert who.status_code == 200
    assert who.json()["data"]["account"] is None
    assert (await client.get("/v2/accounts", headers=bearer(secret))).json() == {"data": []}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nh_not-a-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["missing", "unknown", "empty", "basic"],
)
async def test_missing_or_bad_tokens_are_401_authentication_failed(
    client: httpx.AsyncClient, endpoint: str, headers: dict[str, str]
) -> None:
    response = await ENDPOINTS[endpoint](client, headers)
    assert message_of(response, 401) == "Authentication failed"


async def test_a_revoked_token_is_401(client: httpx.AsyncClient, db: Database) -> None:
    team = await make_team(db)
    await create(client, team)
    async with unit_of_work(db) as session:
        account = await accounts.get_account(session, team.slug)
        (token,) = await accounts.list_tokens(session, account=account)
        await accounts.revoke_token(session, token.id)
    for name in ("whoami", "accounts", "list"):
        response = await ENDPOINTS[name](client, team.headers)
        assert message_of(response, 401) == "Authentication failed"
    listed = await client.get(contacts_url(team), headers=team.headers)
    assert message_of(listed, 401) == "Authentication failed"


async def test_whoami_records_the_tokens_last_use(client: httpx.AsyncClient, db: Database) -> None:
    team = await make_team(db)
    assert (await client.get("/v2/whoami", headers=team.headers)).status_code == 200
    async with unit_of_work(db) as session:
        account = await accounts.get_account(session, team.slug)
        (token,) = await accounts.list_tokens(session, account=account)
        assert token.last_used_at is not None
