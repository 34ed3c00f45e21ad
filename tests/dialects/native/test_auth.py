"""Native authentication: Bearer account tokens, personal tokens with X-Team, revocation."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest

from nichandle.accounts import service as accounts
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from tests.conftest import Team, contact_payload, create_contact, make_team
from tests.dialects.native.helpers import (
    CONTACTS,
    contact_url,
    error_message,
    list_handles,
    team_token,
)

Request = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[httpx.Response]]

# Every native contacts endpoint, called for a handle that need not exist: authentication
# comes first, so the answer is 401 whatever the handle.
ENDPOINTS: dict[str, Request] = {
    "list": lambda c, h: c.get(CONTACTS, headers=h),
    "create": lambda c, h: c.post(CONTACTS, json=contact_payload(), headers=h),
    "list_by_handles": lambda c, h: c.post(f"{CONTACTS}/list", json={"contacts": []}, headers=h),
    "get": lambda c, h: c.get(contact_url("somehandle"), headers=h),
    "update": lambda c, h: c.patch(contact_url("somehandle"), json={}, headers=h),
    "delete": lambda c, h: c.delete(contact_url("somehandle"), headers=h),
    "history": lambda c, h: c.get(f"{contact_url('somehandle')}/history", headers=h),
}


def bearer(secret: str, team: str | int | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {secret}"}
    if team is not None:
        headers["X-Team"] = str(team)
    return headers


def new_email() -> str:
    return f"user-{secrets.token_hex(4)}@example.com"


async def personal_token(db: Database, email: str, *teams: Team) -> tuple[int, str]:
    """Makes ``email`` a member of ``teams`` and gives the user a personal token."""
    async with unit_of_work(db) as session:
        user = await accounts.ensure_user(session, email)
        for team in teams:
            account = await accounts.get_account(session, team.slug)
            user = await accounts.add_member(session, account, email)
        token, secret = await accounts.create_token(session, user=user)
        return token.id, secret


async def team_token_by_prefix(db: Database, team: Team) -> int:
    """The id of the team fixture's own token among the team's tokens."""
    async with unit_of_work(db) as session:
        account = await accounts.get_account(session, team.slug)
        for token in await accounts.list_tokens(session, account=account):
            if team.token.startswith(token.token_prefix):
                return token.id
    raise AssertionError("the team's token is not stored")


async def list_handles_with(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await client.get(CONTACTS, headers=headers)
    assert response.status_code == 200, response.text
    return [c["handle"] for c in response.json()["data"]]


def assert_unauthorized(response: httpx.Response) -> None:
    error_message(response, 401)
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_missing_token_is_401_with_a_message(
    client: httpx.AsyncClient, endpoint: str
) -> None:
    assert_unauthorized(await ENDPOINTS[endpoint](client, {}))


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_unknown_token_is_401_with_a_message(
    client: httpx.AsyncClient, endpoint: str
) -> None:
    headers = bearer("nh_" + secrets.token_urlsafe(32))
    assert_unauthorized(await ENDPOINTS[endpoint](client, headers))


@pytest.mark.parametrize(
    "authorization", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "nh_abc"]
)
async def test_authorization_without_a_bearer_token_is_401(
    client: httpx.AsyncClient, team: Team, authorization: str
) -> None:
    response = await client.get(CONTACTS, headers={"Authorization": authorization})
    assert_unauthorized(response)


async def test_account_token_in_another_scheme_is_refused(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.get(CONTACTS, headers={"Authorization": f"Basic {team.token}"})
    assert_unauthorized(response)


async def test_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.get(CONTACTS, headers={"Authorization": f"bearer {team.token}"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_revoked_token_is_401(
    client: httpx.AsyncClient, team: Team, db: Database, endpoint: str
) -> None:
    assert (await client.get(CONTACTS, headers=team.headers)).status_code == 200
    token = await team_token(db, team)
    async with unit_of_work(db) as session:
        await accounts.revoke_token(session, token.id)
    assert_unauthorized(await ENDPOINTS[endpoint](client, team.headers))


async def test_revoking_one_token_leaves_the_others_working(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    async with unit_of_work(db) as session:
        account = await accounts.get_account(session, team.slug)
        _second, second_secret = await accounts.create_token(session, account=account)
    token = await team_token_by_prefix(db, team)
    async with unit_of_work(db) as session:
        await accounts.revoke_token(session, token)
    assert_unauthorized(await client.get(CONTACTS, headers=team.headers))
    response = await client.get(CONTACTS, headers=bearer(second_secret))
    assert response.status_code == 200, response.text


async def test_personal_token_selects_the_team_by_id(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = new_email()
    first = await make_team(db, owner_email=email)
    second = await make_team(db)
    _token_id, secret = await personal_token(db, email, second)
    response = await client.post(
        CONTACTS, json=contact_payload(), headers=bearer(secret, second.id)
    )
    assert response.status_code == 201, response.text
    handle = response.json()["data"]["handle"]
    assert await list_handles(client, second) == [handle]
    assert await list_handles(client, first) == []


async def test_personal_token_selects_the_team_by_slug(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = new_email()
    first = await make_team(db, owner_email=email)
    second = await make_team(db)
    _token_id, secret = await personal_token(db, email, second)
    ours = await create_contact(client, first)
    listing = await client.get(CONTACTS, headers=bearer(secret, first.slug))
    assert listing.status_code == 200, listing.text
    assert [c["handle"] for c in listing.json()["data"]] == [ours["handle"]]
    other = await client.get(CONTACTS, headers=bearer(secret, second.slug))
    assert other.json()["data"] == []


async def test_personal_token_of_a_one_team_user_needs_no_x_team(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = new_email()
    team = await make_team(db, owner_email=email)
    _token_id, secret = await personal_token(db, email)
    ours = await create_contact(client, team)
    assert await list_handles_with(client, bearer(secret)) == [ours["handle"]]


async def test_personal_token_of_a_several_team_user_must_name_the_team(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = new_email()
    await make_team(db, owner_email=email)
    second = await make_team(db)
    _token_id, secret = await personal_token(db, email, second)
    response = await client.get(CONTACTS, headers=bearer(secret))
    assert "X-Team" in error_message(response, 401)


@pytest.mark.parametrize("by", ["id", "slug"])
async def test_x_team_naming_a_team_the_user_is_not_in_is_404(
    client: httpx.AsyncClient, db: Database, other_team: Team, by: str
) -> None:
    email = new_email()
    await make_team(db, owner_email=email)
    _token_id, secret = await personal_token(db, email)
    theirs = await create_contact(client, other_team)
    selector = other_team.id if by == "id" else other_team.slug
    for response in (
        await client.get(CONTACTS, headers=bearer(secret, selector)),
        await client.get(contact_url(theirs["handle"]), headers=bearer(secret, selector)),
        await client.post(CONTACTS, json=contact_payload(), headers=bearer(secret, selector)),
    ):
        error_message(response, 404)
    assert await list_handles(client, other_team) == [theirs["handle"]]


async def test_x_team_naming_no_team_is_404(client: httpx.AsyncClient, db: Database) -> None:
    email = new_email()
    await make_team(db, owner_email=email)
    _token_id, secret = await personal_token(db, email)
    response = await client.get(CONTACTS, headers=bearer(secret, "no-such-team-anywhere"))
    error_message(response, 404)


async def test_account_token_accepts_its_own_team_in_x_team(
    client: httpx.AsyncClient, team: Team
) -> None:
    for selector in (team.id, team.slug):
        response = await client.get(CONTACTS, headers=bearer(team.token, selector))
        assert response.status_code == 200, response.text


async def test_account_token_cannot_reach_another_team_with_x_team(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    theirs = await create_contact(client, other_team)
    for selector in (other_team.id, other_team.slug):
        response = await client.get(
            contact_url(theirs["handle"]), headers=bearer(team.token, selector)
        )
        error_message(response, 404)


async def test_personal_token_is_recorded_as_the_actor(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = new_email()
    team = await make_team(db, owner_email=email)
    token_id, secret = await personal_token(db, email)
    created = await client.post(CONTACTS, json=contact_payload(), headers=bearer(secret, team.id))
    handle = created.json()["data"]["handle"]
    history = await client.get(f"{contact_url(handle)}/history", headers=team.headers)
    assert history.json()["data"][0]["actor_token_id"] == token_id


async def test_revoked_personal_token_is_401(client: httpx.AsyncClient, db: Database) -> None:
    email = new_email()
    team = await make_team(db, owner_email=email)
    token_id, secret = await personal_token(db, email)
    async with unit_of_work(db) as session:
        await accounts.revoke_token(session, token_id)
    assert_unauthorized(await client.get(CONTACTS, headers=bearer(secret, team.id)))


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_last_used_at_is_set_when_a_token_is_used(
    client: httpx.AsyncClient, team: Team, db: Database, method: str
) -> None:
    assert (await team_token(db, team)).last_used_at is None
    before = datetime.now(UTC)
    if method == "GET":
        response = await client.get(CONTACTS, headers=team.headers)
    else:
        response = await client.post(CONTACTS, json=contact_payload(), headers=team.headers)
    assert response.is_success, response.text
    used = (await team_token(db, team)).last_used_at
    assert used is not None
    assert before <= used <= datetime.now(UTC)


async def test_last_used_at_is_set_for_personal_tokens(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = new_email()
    team = await make_team(db, owner_email=email)
    token_id, secret = await personal_token(db, email)
    assert (await client.get(CONTACTS, headers=bearer(secret, team.slug))).status_code == 200
    async with unit_of_work(db) as session:
        user = await accounts.get_user(session, email)
        tokens = await accounts.list_tokens(session, user=user)
    (token,) = [t for t in tokens if t.id == token_id]
    assert token.last_used_at is not None
