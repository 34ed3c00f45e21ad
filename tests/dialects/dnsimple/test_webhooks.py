"""DNSimple's webhooks API, /v2/{account}/webhooks, as openapi.yml defines it: the Webhook
shape, 201 on create, sort, 400 validation in DNSimple's envelope, 404s and tenancy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from nichandle.db.base import utcnow
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.webhooks.models import Webhook
from tests.conftest import Team
from tests.dialects.dnsimple.helpers import errors_of, message_of
from tests.webhooks.helpers import PRIVATE, RECEIVER, client_with


def webhooks_url(team: Team | int) -> str:
    return f"/v2/{team if isinstance(team, int) else team.id}/webhooks"


async def create(client: httpx.AsyncClient, team: Team, url: str = RECEIVER) -> dict[str, Any]:
    response = await client.post(webhooks_url(team), json={"url": url}, headers=team.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == ["data"]
    return body["data"]


async def test_create_get_list_delete(client: httpx.AsyncClient, team: Team, db: Database) -> None:
    first = await create(client, team)
    assert first == {"id": first["id"], "url": RECEIVER, "suppressed_at": None}
    second = await create(client, team, RECEIVER + "/2")
    got = await client.get(f"{webhooks_url(team)}/{first['id']}", headers=team.headers)
    assert got.json() == {"data": first}

    for sort, order in ((None, [first, second]), ("id:asc", [first, second])):
        params = {"sort": sort} if sort else {}
        listed = await client.get(webhooks_url(team), params=params, headers=team.headers)
        assert listed.json() == {"data": order}
    listed = await client.get(webhooks_url(team), params={"sort": "id:desc"}, headers=team.headers)
    assert listed.json() == {"data": [second, first]}

    # Switched off after failing for the grace period: DNSimple's suppressed_at.
    async with unit_of_work(db) as session:
        await session.execute(
            update(Webhook)
            .where(Webhook.id == second["id"])
            .values(is_active=False, deactivated_at=utcnow())
        )
    suppressed = await client.get(f"{webhooks_url(team)}/{second['id']}", headers=team.headers)
    assert suppressed.json()["data"]["suppressed_at"].endswith("Z")

    deleted = await client.delete(f"{webhooks_url(team)}/{first['id']}", headers=team.headers)
    assert (deleted.status_code, deleted.content) == (204, b"")
    again = await client.delete(f"{webhooks_url(team)}/{first['id']}", headers=team.headers)
    assert message_of(again, 404) == f"Webhook `{first['id']}` not found"
    listed = await client.get(webhooks_url(team), headers=team.headers)
    assert [w["id"] for w in listed.json()["data"]] == [second["id"]]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "ftp://receiver.invalid/"}, "url", "http or https"),
        ({"url": ""}, "url", "http or https"),
        ({"url": "https://receiver.invalid:0x/"}, "url", "port"),
        ({}, "url", "can't be blank"),
        ({"url": 7}, "url", "string"),
        ({"url": RECEIVER, "events": []}, "events", "not a known field"),
    ],
)
async def test_bad_input_is_dnsimples_400(
    client: httpx.AsyncClient, team: Team, body: dict[str, Any], field: str, words: str
) -> None:
    response = await client.post(webhooks_url(team), json=body, headers=team.headers)
    errors = errors_of(response)
    assert response.json()["message"] == "Validation failed"
    assert list(errors) == [field]
    assert words in " ".join(errors[field]).lower()


async def test_not_json_and_bad_sort_are_400(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.post(
        webhooks_url(team),
        content=b"{not json",
        headers={**team.headers, "content-type": "application/json"},
    )
    assert errors_of(response) == {"body": ["is not valid JSON"]}
    response = await client.get(webhooks_url(team), params={"sort": "url"}, headers=team.headers)
    assert list(errors_of(response)) == ["sort"]


async def test_private_targets_are_refused_unless_allowed(app: FastAPI, team: Team) -> None:
    async with client_with(app, webhooks_allow_private=False) as strict:
        response = await strict.post(
            webhooks_url(team), json={"url": PRIVATE}, headers=team.headers
        )
        assert "private" in errors_of(response)["url"][0]


@pytest.mark.parametrize("webhook_id", ["0", "abc", "-1", str(2**63), "99999999"])
async def test_ids_that_name_nothing_are_404(
    client: httpx.AsyncClient, team: Team, webhook_id: str
) -> None:
    for method in ("GET", "DELETE"):
        response = await client.request(
            method, f"{webhooks_url(team)}/{webhook_id}", headers=team.headers
        )
        assert message_of(response, 404) == f"Webhook `{webhook_id}` not found"


async def test_another_accounts_webhooks_are_not_found(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    theirs = await create(client, other_team)
    for method in ("GET", "DELETE"):
        response = await client.request(
            method, f"{webhooks_url(team)}/{theirs['id']}", headers=team.headers
        )
        assert response.status_code == 404
        # Their account in the path: the token may not act for it.
        response = await client.request(
            method, f"{webhooks_url(other_team)}/{theirs['id']}", headers=team.headers
        )
        assert message_of(response, 404) == f"Account `{other_team.id}` not found"
    response = await client.get(webhooks_url(other_team), headers=team.headers)
    assert response.status_code == 404
    assert (await client.get(webhooks_url(team), headers=team.headers)).json() == {"data": []}
    native = await client.get(f"/api/v1/webhooks/{theirs['id']}", headers=other_team.headers)
    assert native.status_code == 404  # a DNSimple webhook is DNSimple's alone
