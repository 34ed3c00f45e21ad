"""Small helpers the native API tests share (plain functions, no fixtures)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from nichandle.accounts import service as accounts
from nichandle.accounts.models import ApiToken
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from tests.conftest import Team

CONTACTS = "/api/v1/contacts"
JSON_HEADERS = {"content-type": "application/json"}


def contact_url(handle: str) -> str:
    return f"{CONTACTS}/{handle}"


def field_errors(response: httpx.Response) -> dict[str, list[str]]:
    """The ``errors`` of a 422 in the native envelope, after checking its shape."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert isinstance(body["message"], str)
    assert body["message"]
    errors: dict[str, list[str]] = body["errors"]
    for field, messages in errors.items():
        assert messages, field
        assert all(isinstance(message, str) and message for message in messages), field
    return errors


def error_message(response: httpx.Response, status: int) -> str:
    """The ``message`` of an error answer with the given status."""
    assert response.status_code == status, response.text
    message: str = response.json()["message"]
    assert message
    return message


async def post_json_text(
    client: httpx.AsyncClient, url: str, body: Any, team: Team
) -> httpx.Response:
    """POSTs ``body`` as Python's json writes it: NaN and lone surrogates survive as escapes."""
    return await client.post(
        url, content=json.dumps(body).encode(), headers={**team.headers, **JSON_HEADERS}
    )


async def list_handles(client: httpx.AsyncClient, team: Team, **params: Any) -> list[str]:
    response = await client.get(CONTACTS, params=params, headers=team.headers)
    assert response.status_code == 200, response.text
    return [contact["handle"] for contact in response.json()["data"]]


async def team_tokens(db: Database, team: Team) -> list[ApiToken]:
    """The team's account tokens, oldest first, as stored."""
    async with unit_of_work(db) as session:
        account = await accounts.get_account(session, team.slug)
        return list(await accounts.list_tokens(session, account=account))


async def team_token(db: Database, team: Team) -> ApiToken:
    tokens = await team_tokens(db, team)
    assert len(tokens) == 1
    return tokens[0]
