"""HTTP Basic ``username:token``: the username says whose token it is, any mismatch is a 401."""

from __future__ import annotations

import base64
import secrets

import httpx
import pytest

from nichandle.accounts import service as accounts
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from tests.conftest import Team, make_team
from tests.dialects.namecom.helpers import DOMAINS, auth, error
from tests.dialects.native.helpers import team_token


async def personal_token(db: Database, email: str, *teams: Team) -> str:
    """A personal token of a user who is a member of ``teams``."""
    async with unit_of_work(db) as session:
        user = await accounts.ensure_user(session, email)
        for team in teams:
            await accounts.add_member(
                session, await accounts.get_account(session, team.slug), email
            )
        _token, secret = await accounts.create_token(session, user=user)
        return secret


def unique_email() -> str:
    return f"user-{secrets.token_hex(4)}@example.com"


def basic(value: str) -> dict[str, str]:
    return {"Authorization": f"Basic {base64.b64encode(value.encode()).decode()}"}


async def test_slug_and_account_token_authenticate(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.get(DOMAINS, auth=auth(team))
    assert response.status_code == 200, response.text


async def test_slug_is_case_insensitive(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.get(DOMAINS, auth=(team.slug.upper(), team.token))
    assert response.status_code == 200, response.text


async def test_another_accounts_slug_with_my_token_is_401(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    body = error(await client.get(DOMAINS, auth=(other_team.slug, team.token)), 401)
    assert body["message"] == "Unauthenticated"
    assert isinstance(body["details"], str)


async def test_my_slug_with_another_accounts_token_is_401(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    error(await client.get(DOMAINS, auth=(team.slug, other_team.token)), 401)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Basic"},
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon-here").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()},
        {"Authorization": "Basic " + base64.b64encode(b":").decode()},
        {"Authorization": "Digest username=x"},
    ],
)
async def test_missing_or_garbled_header_is_401_with_details(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get(DOMAINS, headers=headers)
    body = error(response, 401)
    assert body["details"]
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_bearer_token_is_not_accepted_here(client: httpx.AsyncClient, team: Team) -> None:
    error(await client.get(DOMAINS, headers=team.headers), 401)


async def test_unknown_token_is_401(client: httpx.AsyncClient, team: Team) -> None:
    error(await client.get(DOMAINS, auth=(team.slug, "nh_" + "0" * 43)), 401)


async def test_revoked_token_is_401(client: httpx.AsyncClient, db: Database) -> None:
    team = await make_team(db)
    token = await team_token(db, team)
    async with unit_of_work(db) as session:
        await accounts.revoke_token(session, token.id)
    error(await client.get(DOMAINS, auth=auth(team)), 401)


async def test_401_comes_before_body_checks(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.post(DOMAINS, content=b"{bad", auth=(team.slug, "wrong"))
    error(response, 401)


async def test_email_and_personal_token_of_a_one_team_user(
    client: httpx.AsyncClient, db: Database, team: Team
) -> None:
    email = unique_email()
    token = await personal_token(db, email, team)
    response = await client.get(DOMAINS, auth=(email.upper(), token))
    assert response.status_code == 200, response.text


async def test_personal_token_of_a_several_team_user_needs_x_team(
    client: httpx.AsyncClient, db: Database, team: Team, other_team: Team
) -> None:
    email = unique_email()
    token = await personal_token(db, email, team, other_team)
    error(await client.get(DOMAINS, auth=(email, token)), 401)
    picked = await client.get(DOMAINS, auth=(email, token), headers={"X-Team": other_team.slug})
    assert picked.status_code == 200, picked.text
    stranger = await make_team(db)
    error(await client.get(DOMAINS, auth=(email, token), headers={"X-Team": stranger.slug}), 401)


async def test_personal_token_with_another_users_email_is_401(
    client: httpx.AsyncClient, db: Database, team: Team
) -> None:
    token = await personal_token(db, unique_email(), team)
    other = unique_email()
    await personal_token(db, other, team)
    error(await client.get(DOMAINS, auth=(other, token)), 401)


async def test_personal_token_with_a_slug_is_401(
    client: httpx.AsyncClient, db: Database, team: Team
) -> None:
    token = await personal_token(db, unique_email(), team)
    error(await client.get(DOMAINS, auth=(team.slug, token)), 401)


async def test_account_token_with_an_email_is_401(
    client: httpx.AsyncClient, db: Database, team: Team
) -> None:
    email = unique_email()
    await personal_token(db, email, team)
    error(await client.get(DOMAINS, auth=(email, team.token)), 401)


async def test_use_is_recorded_on_the_token(client: httpx.AsyncClient, db: Database) -> None:
    team = await make_team(db)
    assert (await team_token(db, team)).last_used_at is None
    response = await client.get(DOMAINS, auth=auth(team))
    assert response.status_code == 200
    assert (await team_token(db, team)).last_used_at is not None


async def test_basic_header_built_by_hand_works(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.get(DOMAINS, headers=basic(f"{team.slug}:{team.token}"))
    assert response.status_code == 200, response.text
